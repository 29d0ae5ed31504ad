"""Reliability figures for the README: a real API process under hostile input, load, crashes, outages and time.

    python bench/reliability.py                        # everything, about 45 minutes (the soak takes 30)
    python bench/reliability.py --only schemathesis soak --soak-minutes 5

Scenarios (facerec/testing/reliability.py; the test suite runs small versions of each):
  schemathesis  generated requests from /openapi.json, stateful links included: server errors
  uploads       a 1 GB upload without a key (stated and chunked), and over the size limit with one: disk, memory
  concurrent    1,000 enrolments at once -> 1,000 records
  kill          index_people.sh over 560 LFW photos, the API killed (SIGKILL) mid-batch, restarted, run again
  outages       Elasticsearch (noida-db) and S3 (rclone) stopped and started again: 503, /ready, recovery
  soak          20 recognitions a second for 30 minutes: errors, latency, resident memory (plot docs/soak.png)

The API serves the model given by --model (default: the tiny synthetic bundle, which makes the soak measure the
service rather than the encoder). Writes bench/results/reliability.json (with --only, the other scenarios' figures
already there are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.reporting import environment, write_report  # noqa: E402
from facerec.testing import reliability  # noqa: E402
from facerec.testing.servers import NoidaElasticsearch, RcloneS3, UvicornAPI  # noqa: E402
from facerec.testing.synthetic import synthetic_face, tiny_bundle  # noqa: E402
from facerec.train.data import scan_people  # noqa: E402

SCENARIOS = ["schemathesis", "uploads", "concurrent", "kill", "outages", "soak"]
KEY = "reliability-bench-key-" + uuid.uuid4().hex


def jpeg(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="MODEL_URI for the API (default: the tiny synthetic bundle)")
    parser.add_argument(
        "--dataset", default=os.environ.get("LFW_DIR") or str(ROOT.parent / "shared/lfw/lfw-deepfunneled")
    )
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    parser.add_argument("--soak-minutes", type=float, default=30)
    parser.add_argument("--soak-rate", type=float, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "reliability.json"))
    parser.add_argument("--plot", default=str(ROOT / "docs" / "soak.png"))
    parser.add_argument("--plot-only", action="store_true", help="draw the soak plot from --out's JSON, run nothing")
    args = parser.parse_args()
    if args.plot_only:
        plot_soak(json.loads(Path(args.out).read_text())["results"]["soak"], args.plot)
        return

    work = Path(tempfile.mkdtemp(prefix="facerec-reliability-"))
    model = args.model or str(tiny_bundle(work / "tiny-model"))
    # synthetic faces are smooth patterns: the blur rule of the quality gate would refuse every one of them
    base_env = {"MODEL_URI": model, "API_KEY": KEY, "QUALITY_MIN_SHARPNESS": "0"}
    report: dict = {**environment(), "model": args.model or "tiny synthetic bundle (facerec.testing.synthetic)"}
    results: dict = {}

    def fresh_api(name: str, **extra: str) -> UvicornAPI:
        (work / name).mkdir(exist_ok=True)
        env = base_env | {"INDEX_PATH": str(work / name / "faces.sqlite3"), "TMPDIR": str(work / name)} | extra
        return UvicornAPI(env).start()

    try:
        if "schemathesis" in args.only:
            api = fresh_api("schemathesis")
            try:
                results["schemathesis"] = reliability.schemathesis_run(api.url, KEY, max_examples=100, max_time_s=1200)
            finally:
                api.stop()
            print("schemathesis:", results["schemathesis"]["exit_code"], flush=True)
        if "uploads" in args.only:
            api = fresh_api("uploads")
            try:
                results["uploads"] = reliability.oversized_uploads(api, KEY, total=2**30)
            finally:
                api.stop()
            print("uploads:", results["uploads"], flush=True)
        if "concurrent" in args.only:
            api = fresh_api("concurrent")
            images = [jpeg(synthetic_face(i)) for i in range(50)]
            try:
                results["concurrent"] = reliability.concurrent_enrolments(api, KEY, images, n=1000, concurrency=200)
            finally:
                api.stop()
            print("concurrent:", results["concurrent"], flush=True)
        if "kill" in args.only:
            people = scan_people(args.dataset)
            folder = work / "kill-folder"
            for name in sorted(people)[:560]:
                (folder / name).mkdir(parents=True)
                shutil.copy(people[name][0], folder / name)
            env = base_env | {"INDEX_PATH": str(work / "kill.sqlite3")}
            results["kill"] = reliability.kill_during_batch(env, folder, kill_at_people=280)
            print("kill:", results["kill"], flush=True)
        if "outages" in args.only:
            results["outages"] = outages(work, base_env)
            print("outages:", results["outages"], flush=True)
        if "soak" in args.only:
            api = fresh_api("soak")
            try:
                headers = {"X-API-Key": KEY}
                for i in range(50):  # a gallery to search
                    files = {"image": ("a.jpg", jpeg(synthetic_face(i)), "image/jpeg")}
                    httpx.post(f"{api.url}/api/v1/index", files=files, data={"name": f"P{i}"},
                               params={"detect": "false"}, headers=headers, timeout=60)  # fmt: skip
                results["soak"] = reliability.soak(
                    api, KEY, jpeg(synthetic_face(7, 1)), args.soak_rate, args.soak_minutes * 60, sample_every_s=10
                )
            finally:
                api.stop()
            plot_soak(results["soak"], args.plot)
            print("soak:", {k: v for k, v in results["soak"].items() if k != "rss_samples"}, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    if previous.get("model") == report["model"]:  # --only reruns some scenarios: keep the others' figures
        results = previous.get("results", {}) | results
    out = write_report(report | {"results": results}, args.out)
    print(f"written to {out}")


def outages(work: Path, base_env: dict[str, str]) -> dict:
    es = NoidaElasticsearch(work / "es").start()
    s3 = RcloneS3(work / "s3").start()
    env = base_env | {
        "INDEX_BACKEND": "elasticsearch", "ES_URL": es.url, "ES_INDEX": "faces-reliability",
        "ORIGINALS_URI": "s3://originals/faces", "S3_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
    }  # fmt: skip
    api = UvicornAPI(env).start()
    face = jpeg(synthetic_face(3))
    counter = iter(range(10**6))

    def enrol(client: httpx.Client) -> httpx.Response:
        files = {"image": ("a.jpg", face, "image/jpeg")}
        return client.post("/api/v1/index", files=files, data={"name": f"P{next(counter)}"}, params={"detect": "false"})

    try:
        return {
            "elasticsearch": reliability.outage_and_recovery(api, KEY, es, enrol),
            "s3": reliability.outage_and_recovery(api, KEY, s3, enrol),
        }
    finally:
        api.stop()
        es.stop()
        s3.stop()


def plot_soak(soak: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [t / 60 for t, _ in soak["rss_samples"]]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(minutes, [r for _, r in soak["rss_samples"]], "-", color="tab:blue")
    ax.set_xlabel("minutes")
    ax.set_ylabel("API resident memory (MB)")
    ax.set_title(
        f"{soak['rate_per_s']:g} recognitions/s for {soak['seconds'] / 60:g} min: {soak['errors']} errors, "
        f"memory {soak['rss_growth_after_settling']:+.1%} after settling"
    )
    ax.set_ylim(0, 1.15 * max(r for _, r in soak["rss_samples"]))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot: {path} ({time.strftime('%H:%M')})")


if __name__ == "__main__":
    main()
