"""The package's wings stay apart: serving never loads training code, the shared floors load neither wing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from facerec.testing import REPO_ROOT


def loaded_modules(*modules: str) -> set[str]:
    """The modules a fresh interpreter holds after importing ``modules``."""
    code = (
        f"import importlib, json, sys\nfor m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_serving_imports_nothing_from_training():
    modules = loaded_modules(
        "facerec.serve.build", "facerec.serve.reindex", "api.main", "api.__main__", "facerec.index.embedded"
    )
    assert "facerec.serve.recognizer" in modules and "api.routes.faces" in modules  # the check sees real imports
    assert not {m for m in modules if m.startswith(("facerec.train", "facerec.testing"))}
    # fitting lives in training; serving applies the fitted curves with numpy alone
    assert not {m for m in modules if m.split(".")[0] in {"sklearn", "metaflow", "matplotlib"}}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("facerec.model", ("facerec.train", "facerec.serve", "facerec.index", "api")),
        ("facerec.index", ("facerec.model", "facerec.train", "facerec.serve", "api")),
        ("facerec.storage", ("facerec.model", "facerec.train", "facerec.serve", "facerec.index", "api")),
    ],
)
def test_shared_floors_import_neither_wing(package, forbidden):
    submodules = {
        "facerec.model": ["bundle", "calibration", "encoder", "preprocess", "pretrained", "runtime", "split"],
        "facerec.index": ["base", "embedded", "elastic"],
        "facerec.storage": [],
    }[package]
    modules = loaded_modules(package, *(f"{package}.{name}" for name in submodules))
    assert not {m for m in modules if m.startswith(forbidden)}
