"""Numbers in the README and docs/ are the ones the benchmarks wrote: every table is rendered from its JSON."""

from __future__ import annotations

import subprocess
import sys

from facerec.testing import REPO_ROOT


def test_every_table_in_the_docs_matches_its_json():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "docs_tables.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tables_are_marked_where_results_are_quoted():
    readme = (REPO_ROOT / "README.md").read_text()
    for table in ("train-results", "open-set-results", "demo-results", "reliability-results"):
        assert f"<!-- table:{table} -->" in readme, table


def test_the_readme_stays_short_with_details_one_link_away():
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.encode()) < 12_000, "move details to docs/ and link them"
    for document in ("docs/api.md", "docs/experiments.md", "docs/model_card.md"):
        assert f"]({document}" in readme and (REPO_ROOT / document).is_file(), document
