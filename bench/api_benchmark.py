"""End-to-end /api/v1/recognize latency and throughput, through a real uvicorn process.

    python bench/api_benchmark.py --model FacialRecognitionTrainFlow/latest [--requests 200] [--seconds 20] \
        [--env INFERENCE_RUNTIME=torch --env INFERENCE_WORKERS=2 ...]

Cases: a 250 px LFW crop with detect=false; a 640x480 photo (an LFW image scaled into a larger scene) with MTCNN
detection; and requests/s of crops from 8 concurrent clients. 50 people are enrolled first.
Writes bench/results/api_benchmark.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.testing.servers import UvicornAPI  # noqa: E402
from facerec.train.data import scan_people  # noqa: E402


def photo_640(path: str) -> bytes:
    scene = Image.new("RGB", (640, 480), (90, 110, 130))
    face = Image.open(path).convert("RGB").resize((320, 320))
    scene.paste(face, (180, 80))
    buffer = io.BytesIO()
    scene.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def timed(client: httpx.Client, data: bytes, params: dict, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post("/api/v1/recognize", files={"image": ("q.jpg", data, "image/jpeg")}, params=params)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return latencies


async def throughput(url: str, data: bytes, clients: int, seconds: float) -> tuple[float, int]:
    done = errors = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def worker():
            nonlocal done, errors
            while time.monotonic() < deadline:
                response = await client.post(
                    "/api/v1/recognize", files={"image": ("q.jpg", data, "image/jpeg")}, params={"detect": "false"}
                )
                done += 1
                errors += response.status_code != 200

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return done / (time.monotonic() - started), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="MODEL_URI of the bundle to serve")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE service setting (repeatable)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "api_benchmark.json"))
    args = parser.parse_args()

    people = scan_people(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    enrolled = [n for n in sorted(people) if len(people[n]) >= 2][:50]
    crop = Path(people[enrolled[0]][1]).read_bytes()
    photo = photo_640(people[enrolled[1]][1])
    service_env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"MODEL_URI": args.model, "INDEX_PATH": f"{tmp}/faces.sqlite3", **service_env}
        api = UvicornAPI(env).start(timeout_s=300)
        try:
            with httpx.Client(base_url=api.url, timeout=60) as client:
                faces = 0
                for name in enrolled:  # photos the quality gate refuses are skipped, and counted
                    files = {"image": ("e.jpg", Path(people[name][0]).read_bytes(), "image/jpeg")}
                    response = client.post("/api/v1/index", files=files, data={"name": name}, params={"face": 0})
                    faces += response.status_code == 201
                timed(client, crop, {"detect": "false"}, 10)  # warm-up
                timed(client, photo, {}, 5)
                crop_ms = timed(client, crop, {"detect": "false"}, args.requests)
                photo_ms = timed(client, photo, {}, args.requests)
            rps, errors = asyncio.run(throughput(api.url, crop, args.clients, args.seconds))
        finally:
            api.stop()

    def stats(values: list[float]) -> dict:
        return {
            "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)),
            "n": len(values),
        }

    report = {
        **environment(),
        "model": args.model,
        "service_env": service_env,
        "enrolled_faces": faces,
        "crop_250px_detect_false": stats(crop_ms),
        "photo_640px_with_detection": stats(photo_ms),
        "throughput_crops": {"clients": args.clients, "requests_per_s": rps, "errors": errors},
    }
    out = write_report(report, args.out)
    print(f"{report['machine']}  {report['date']}  model {args.model}  {service_env or 'default settings'}\n")
    print("| case | p50 ms | p99 ms |\n|---|---|---|")
    for key in ("crop_250px_detect_false", "photo_640px_with_detection"):
        print(f"| {key} | {report[key]['p50_ms']:.1f} | {report[key]['p99_ms']:.1f} |")
    print(f"\nthroughput, {args.clients} clients, crops: {rps:.1f} requests/s ({errors} errors)\nwritten to {out}")


if __name__ == "__main__":
    main()
