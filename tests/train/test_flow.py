"""The Metaflow flow end to end against a real S3 server, and its fail-fast parameter checks."""

import json
import os
import re
import subprocess
import sys

import pytest

import project_setup
from facerec.storage import list_keys
from facerec.testing import REPO_ROOT as ROOT

pytestmark = pytest.mark.slow  # real processes: servers, a browser, Metaflow


BUCKET = "facerec-test"


def flow_env(tmp_path, extra: dict | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_", "METAFLOW_"))}
    env |= {
        "METAFLOW_USER": "tester",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(tmp_path / "mf"),
        "FACEREC_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(ROOT),
    }
    return env | (extra or {})


def run_flow(tmp_path, *args: str, env_extra: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    (tmp_path / "mf").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(ROOT / "metaflow_train.py"), "--no-pylint", "run", *args],
        env=flow_env(tmp_path, env_extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_flow_trains_from_s3_publishes_and_a_fresh_process_serves_the_bundle(
    tmp_path, s3_server, mini_lfw, monkeypatch
):
    s3 = s3_server.config(BUCKET)
    for key, value in s3_server.env(BUCKET).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LFW_S3_PREFIX", "datasets/lfw-mini")
    dataset_uri = project_setup.upload(mini_lfw)
    assert dataset_uri == f"s3://{BUCKET}/datasets/lfw-mini"

    result = run_flow(
        tmp_path,
        "--dataset", dataset_uri, "--max_people", "10", "--max_steps", "3", "--image_size", "64",
        "--batch_size", "16", "--evals_per_epoch", "1", "--eval_scale", "1.3", "--eval_extra_sizes", "96",
        "--bucket", BUCKET,
        env_extra=s3_server.env(BUCKET),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "'train': 10, 'dev': 6, 'test': 6" in output  # 30 people split 18/6/6, then at most 10 per part

    keys = list_keys(s3, f"s3://{BUCKET}/models/")
    latest = json.loads((s3_server.root / BUCKET / "models" / "latest.json").read_text())
    run_prefix = latest["bundle_uri"].removeprefix(f"s3://{BUCKET}/")
    for name in ("bundle.json", "weights.safetensors", "calibrator.json", "split.json", "metrics.json"):
        assert f"{run_prefix}{name}" in keys

    image = str(mini_lfw / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg")
    script = (
        "import json, sys\n"
        "from facerec.model.bundle import load_bundle\n"
        "from facerec.model.preprocess import load_rgb\n"
        "bundle = load_bundle(sys.argv[1])\n"
        "e = bundle.embed_crops([load_rgb(sys.argv[2])])\n"
        "print(json.dumps({'version': bundle.model_version, 'shape': list(e.shape), 'norm': float(e.norm()),\n"
        "                  'inputs': bundle.preprocess.eval_image_sizes, 'train_input': bundle.preprocess.image_size,\n"
        "                  'recipe': bundle.metrics['train']['recipe'], 'open_set': bundle.open_set is not None,\n"
        "                  'cohort': len(bundle.cohort),\n"
        "                  'teacher': bundle.metrics['train']['teacher'],\n"
        "                  'test_people': len(bundle.split.test), 'metrics': sorted(bundle.metrics)}))\n"
    )
    fresh_cache = flow_env(tmp_path / "fresh", s3_server.env(BUCKET))
    for source in (f"s3://{BUCKET}/models/latest.json", "FacialRecognitionTrainFlow/latest"):
        env = (
            fresh_cache if source.startswith("s3") else flow_env(tmp_path, {"FACEREC_CACHE_DIR": str(tmp_path / "mfc")})
        )
        served = subprocess.run(
            [sys.executable, "-c", script, source, image], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert served.returncode == 0, served.stderr[-3000:]
        info = json.loads(served.stdout.strip().splitlines()[-1])
        assert info["version"] == latest["model_version"]
        assert info["shape"] == [1, 300] and abs(info["norm"] - 1) < 1e-5
        assert info["test_people"] == 6
        # served (and evaluated) at eval_scale x the training input, averaged with the extra test size
        assert info["inputs"] == [83, 96] and info["train_input"] == 64
        # the one recipe built in start travels to the bundle
        assert info["recipe"]["train"]["max_steps"] == 3 and info["recipe"]["encoder"]["embedding_dim"] == 300
        # the open-set calibrator and its cohort travel in the bundle, with the test figures of both rules
        assert info["open_set"] and info["cohort"] >= 1 and "open_set" in info["metrics"]
        # distilled by default: the teacher's descriptors were computed in the train step (empty cache)
        assert info["teacher"] == "dlib_resnet_v1"
        assert {"verification_accuracy", "roc_auc", "tar_at_far_1e-3", "open_set_rank1", "ece_15_bins"} <= set(
            info["metrics"]
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train_fraction", "0.5"], "summing to 1"),
        (["--batch_size", "6"], "not a multiple of images_per_person"),
        (["--batch_size", "4"], "at least 2 people"),
        (["--dataset", "/nonexistent/lfw"], "dataset folder not found"),
        (["--eval_crop_fraction", "1.5"], "crop fractions in (0, 1]"),
        (["--eval_extra_sizes", "224px"], "comma-separated whole pixels"),
        (["--eval_extra_sizes", "192"], "each test input size must differ"),
        (["--distill_mode", "logits"], "distill_mode one of"),
        (["--dev_gallery_draws", "0"], "dev_gallery_draws must be >= 1"),
        (["--device", "tpu"], "device must be one of"),
    ],
)
def test_bad_parameters_fail_fast_with_a_clear_message(tmp_path, args, message):
    result = run_flow(tmp_path, *args, timeout=120)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert message in output, output[-2000:]
    # failed in start, before any training: Metaflow never announced a task of the train step
    assert "Task is starting" in output and not re.search(r"\d+/train/\d+", output)


def test_unreachable_s3_fails_before_training(tmp_path):
    endpoint = {"S3_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    result = run_flow(tmp_path, "--bucket", "facerec-missing", env_extra=endpoint, timeout=120)
    assert result.returncode != 0
    assert "Could not connect to the endpoint URL" in result.stdout + result.stderr
