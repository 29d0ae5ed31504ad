"""Small versions of the reliability suite (`python bench/reliability.py` runs them at full size): a real API
process on the tiny model, real servers, real failures."""

from __future__ import annotations

import shutil
import uuid
from itertools import islice
from pathlib import Path

import httpx
import pytest

from facerec.model.preprocess import load_rgb
from facerec.serve.detection import FaceDetector
from facerec.testing import reliability
from facerec.testing.servers import NoidaElasticsearch, RcloneS3, UvicornAPI
from facerec.testing.synthetic import synthetic_face

from .helpers import jpeg

pytestmark = pytest.mark.slow
KEY = "reliability-test-key-0123456789"


@pytest.fixture
def api(tiny_bundle_dir, tmp_path):
    env = {"MODEL_URI": str(tiny_bundle_dir), "INDEX_PATH": str(tmp_path / "faces.sqlite3"), "API_KEY": KEY}
    # synthetic faces are smooth patterns: no blur rule for them
    env |= {"LIMITS_UPLOAD_BYTES": "1000000", "TMPDIR": str(tmp_path / "tmp"), "QUALITY_MIN_SHARPNESS": "0"}
    server = UvicornAPI(env)
    (tmp_path / "tmp").mkdir()
    server.start()
    yield server
    server.stop()


def test_oversized_uploads_write_nothing_and_cost_little_memory(api, tmp_path):
    results = reliability.oversized_uploads(api, KEY, total=256 * 2**20)
    assert [r["status"] for r in results.values()] == [401, 401, 413], results
    for case, figures in results.items():
        # without a key: logs at most, no spooled body; with one: at most the body limit (3 MB here) was spooled
        limit = 2**20 if case.startswith("no key") else 3 * 10**6 + 2**20
        assert figures["server_disk_bytes_written"] < limit, (case, figures)
        assert figures["server_rss_growth_mb"] < 50, (case, figures)
    assert sum(p.stat().st_size for p in (tmp_path / "tmp").rglob("*") if p.is_file()) < 2**20


def test_schemathesis_finds_no_server_error(api):
    run = reliability.schemathesis_run(api.url, KEY, max_examples=8, max_time_s=150)
    assert run["exit_code"] == 0, run["output_tail"]


def test_concurrent_enrolments_all_land(api):
    images = [jpeg(synthetic_face(i)) for i in range(20)]
    figures = reliability.concurrent_enrolments(api, KEY, images, n=120, concurrency=60)
    assert figures["created"] == figures["records"] == figures["people"] == 120, figures


def test_a_batch_killed_mid_way_and_run_again_enrols_everyone_exactly_once(tiny_bundle_dir, tmp_path, lfw_people):
    folder = tmp_path / "faces"
    detector = FaceDetector()
    # photos whose one face the service can enrol (some LFW photos show two people of similar size)
    one_face = (n for n in sorted(lfw_people) if len(detector.detect(load_rgb(lfw_people[n][0]))) == 1)
    names = list(islice(one_face, 50))
    for name in names:
        (folder / name).mkdir(parents=True)
        shutil.copy(lfw_people[name][0], folder / name)
    env = {"MODEL_URI": str(tiny_bundle_dir), "INDEX_PATH": str(tmp_path / "faces.sqlite3"), "API_KEY": KEY}
    figures = reliability.kill_during_batch(env, folder, kill_at_people=20)
    assert figures["batch_was_running_when_killed"] and 20 <= figures["people_when_killed"] < len(names), figures
    assert figures["every_person_exactly_once"], figures
    refused = sum(figures["photos_refused_for_their_content"].values())
    assert figures["people_enrolled"] + refused == len(names) and refused <= 2, figures


def test_elasticsearch_and_s3_outages_answer_503_and_recover(tiny_bundle_dir, tmp_path):
    es = NoidaElasticsearch(tmp_path / "es").start()
    s3 = RcloneS3(tmp_path / "s3").start()
    env = {
        "MODEL_URI": str(tiny_bundle_dir), "API_KEY": KEY, "INDEX_BACKEND": "elasticsearch", "ES_URL": es.url,
        "ES_INDEX": f"faces-{uuid.uuid4().hex[:8]}", "ORIGINALS_URI": "s3://originals/faces",
        "S3_ENDPOINT_URL": s3.endpoint_url, "AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "QUALITY_MIN_SHARPNESS": "0",
    }  # fmt: skip
    api = UvicornAPI(env).start()
    face = jpeg(synthetic_face(3))
    counter = iter(range(1000))

    def enrol(client: httpx.Client) -> httpx.Response:
        files = {"image": ("a.jpg", face, "image/jpeg")}
        return client.post("/api/v1/index", files=files, data={"name": f"P{next(counter)}"}, params={"detect": "false"})

    try:
        for backend, what in ((es, "face index"), (s3, "S3 storage")):
            figures = reliability.outage_and_recovery(api, KEY, backend, enrol)
            assert (figures["before"], figures["during"], figures["ready_during"]) == (201, 503, 503), figures
            assert f"{what} is unavailable" in figures["during_msg"], figures
            assert (figures["after"], figures["ready_after"]) == (201, 200), figures
    finally:
        api.stop()
        es.stop()
        s3.stop()


def test_a_short_soak_has_no_errors(api):
    key_headers = {"X-API-Key": KEY}
    files = {"image": ("a.jpg", jpeg(synthetic_face(4)), "image/jpeg")}
    httpx.post(f"{api.url}/api/v1/index", files=files, data={"name": "Soak"}, params={"detect": "false"},
               headers=key_headers)  # fmt: skip
    figures = reliability.soak(api, KEY, jpeg(synthetic_face(4, 1)), rate=20, seconds=12, sample_every_s=1)
    assert figures["errors"] == 0 and figures["requests"] >= 230, figures
    assert figures["rss_growth_after_settling"] < 0.25, figures


def test_listening_beyond_loopback_needs_a_key(tiny_bundle_dir, tmp_path):
    import subprocess
    import sys

    from facerec.testing import REPO_ROOT
    from facerec.testing.servers import free_port

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT),
           "MODEL_URI": str(tiny_bundle_dir), "INDEX_PATH": str(tmp_path / "f.db")}  # fmt: skip
    refused = subprocess.run(
        [sys.executable, "-m", "api", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and "refusing to listen on 0.0.0.0 without an API key" in refused.stderr
    assert Path(tmp_path / "f.db").exists() is False  # refused before touching anything
