"""The renderers of `bench/docs_tables.py`, one module per topic; each reads the JSON its benchmark wrote."""
