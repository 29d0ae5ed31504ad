"""Test support shared by the test suite and the benchmarks: real servers on free loopback ports, synthetic faces, a
tiny encoder bundle and in-memory stand-ins. Nothing in the service imports it."""

from pathlib import Path

# the checkout: where `python -m api`, the flow and the scripts are run from
REPO_ROOT = Path(__file__).resolve().parents[2]
