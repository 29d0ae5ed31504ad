"""Fixtures for the whole suite, and the tiers.

Tests that read LFW (through ``lfw_dir``, directly or via another fixture) are marked ``lfw``; those that start
servers, browsers or training runs are marked ``slow`` where they are defined. ``make test-fast`` runs the rest,
on synthetic images and tensors, in well under a minute and without ``../shared``; ``make test`` runs everything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facerec.testing import REPO_ROOT as ROOT
from facerec.testing.servers import NoidaElasticsearch, RcloneS3
from facerec.testing.synthetic import tiny_bundle
from facerec.train.data import scan_people

LFW_DIR = ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "lfw_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lfw)


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


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory) -> Path:
    """A real bundle around a 0.1M-parameter encoder, calibrated on synthetic faces (no LFW, ~2 s)."""
    return tiny_bundle(tmp_path_factory.mktemp("tiny-bundle") / "model")


@pytest.fixture(scope="session")
def noida(tmp_path_factory):
    """noida-db's Elasticsearch 8 API, one server for the session (each test uses its own index name)."""
    server = NoidaElasticsearch(tmp_path_factory.mktemp("noida")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_server(tmp_path):
    server = RcloneS3(tmp_path / "s3").start()
    yield server
    server.stop()
