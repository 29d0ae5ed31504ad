"""ruff (configured in pyproject.toml) is part of the suite, so style drift fails CI like any other regression."""

import subprocess
import sys

from facerec.testing import REPO_ROOT as ROOT


def test_ruff_check_and_format():
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
