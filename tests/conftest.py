from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facerec.data import scan_people

from .servers import RcloneS3

ROOT = Path(__file__).resolve().parents[1]
LFW_DIR = ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    # not a skip: every core path is tested on the real data, which CI has beside the clone
    assert LFW_DIR.is_dir(), f"LFW is expected at {LFW_DIR} (see ../shared/lfw/README.md)"
    return LFW_DIR


@pytest.fixture(scope="session")
def lfw_people(lfw_dir) -> dict[str, list[str]]:
    return scan_people(lfw_dir)


@pytest.fixture(scope="session")
def mini_lfw(tmp_path_factory, lfw_people) -> Path:
    """A small LFW-shaped folder: 30 people with 3+ images (first 4 each) and 6 people with one image."""
    root = tmp_path_factory.mktemp("mini-lfw") / "lfw-deepfunneled"
    many = [n for n in sorted(lfw_people) if len(lfw_people[n]) >= 3][:30]
    singles = [n for n in sorted(lfw_people) if len(lfw_people[n]) == 1][:6]
    for name in many + singles:
        (root / name).mkdir(parents=True)
        for path in lfw_people[name][:4]:
            shutil.copy(path, root / name)
    return root


@pytest.fixture
def s3_server(tmp_path):
    server = RcloneS3(tmp_path / "s3").start()
    yield server
    server.stop()
