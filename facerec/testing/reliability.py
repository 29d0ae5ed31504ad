"""Reliability scenarios against a running API process: the same code measures in ``bench/reliability.py`` (large,
minutes) and checks in the test suite (small, seconds).

Each scenario returns a dict of figures; none asserts. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from . import REPO_ROOT
from .servers import UvicornAPI


def rss_bytes(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


def written_bytes(pid: int) -> int:
    """Bytes the process caused to be written to storage so far (Linux /proc/<pid>/io)."""
    import psutil

    return psutil.Process(pid).io_counters().write_bytes


class PeakRss:
    """The highest resident memory of ``pid`` while the ``with`` block runs (sampled every 20 ms)."""

    def __init__(self, pid: int):
        self.pid, self.bytes = pid, rss_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        while not self._done.is_set():
            self.bytes = max(self.bytes, rss_bytes(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


MULTIPART_START = b'--x\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\n\r\n'


def push_body(port: int, path: str, headers: dict[str, str], total: int, chunked: bool) -> tuple[int, int]:
    """Send a POST of ``total`` bytes (stated in Content-Length, or chunked) as long as the server reads it: a
    well-formed multipart start, then one file part that goes on and on.

    Returns (HTTP status of the answer, bytes of body sent before it came or the server stopped reading).
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    block, sent = b"\0" * 65536, 0

    def frame(piece: bytes) -> bytes:
        return f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece

    try:
        sock.sendall(frame(MULTIPART_START))
        sent = len(MULTIPART_START)
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:  # the server answered before reading everything
                break
            piece = block[: min(len(block), total - sent)]
            sock.sendall(frame(piece))
            sent += len(piece)
        if chunked and sent >= total:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = sock.recv(4096).decode("latin-1")
        status = int(answer.split(" ", 2)[1]) if answer.startswith("HTTP/") else 0
    except (OSError, ValueError, IndexError):
        status = 0
    finally:
        sock.close()
    return status, sent


def oversized_uploads(api: UvicornAPI, key: str | None, total: int) -> dict:
    """A ``total``-byte upload without a key, and over the size limit with one; the server's disk and memory cost."""
    pid = api.process.pid
    results = {}
    for case, headers, chunked in (
        ("no key, Content-Length", {"Content-Type": "multipart/form-data; boundary=x"}, False),
        ("no key, chunked", {"Content-Type": "multipart/form-data; boundary=x"}, True),
        ("key, over the limit, chunked", {"Content-Type": "multipart/form-data; boundary=x", "X-API-Key": key}, True),
    ):
        if "X-API-Key" in headers and not key:
            continue
        rss_before, disk_before = rss_bytes(pid), written_bytes(pid)
        with PeakRss(pid) as peak:
            started = time.monotonic()
            status, sent = push_body(api.port, "/api/v1/index", headers, total, chunked)
        results[case] = {
            "status": status,
            "body_bytes_sent_before_refusal": sent,
            "seconds": round(time.monotonic() - started, 3),
            "server_disk_bytes_written": written_bytes(pid) - disk_before,
            "server_rss_growth_mb": round((peak.bytes - rss_before) / 2**20, 1),
        }
    return results


async def _enrol_all(url: str, key: str | None, images: list[bytes], n: int, concurrency: int) -> list[int]:
    headers = {"X-API-Key": key} if key else {}
    # one connection per request: a pooled connection that sat idle past the server's keep-alive can be closed
    # under the client's feet, and a POST must not be retried blindly
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits, headers=headers) as client:

        async def enrol(i: int) -> int:
            files = {"image": (f"{i}.jpg", images[i % len(images)], "image/jpeg")}
            data = {"name": f"person-{i:05d}"}
            try:
                response = await client.post("/api/v1/index", files=files, data=data, params={"detect": "false"})
            except httpx.HTTPError:
                return 0  # a transport failure: counted, not raised
            return response.status_code

        return list(await asyncio.gather(*(enrol(i) for i in range(n))))


def concurrent_enrolments(api: UvicornAPI, key: str | None, images: list[bytes], n: int, concurrency: int) -> dict:
    """``n`` enrolments of ``n`` different people at once; how many answered 201 and how many records exist."""
    started = time.monotonic()
    statuses = asyncio.run(_enrol_all(api.url, key, images, n, concurrency))
    people = httpx.get(f"{api.url}/api/v1/people", headers={"X-API-Key": key} if key else {}, timeout=60).json()
    return {
        "requests": n,
        "concurrency": concurrency,
        "created": statuses.count(201),
        "other_statuses": sorted(set(statuses) - {201}),
        "records": people["total_faces"],
        "people": people["total_people"],
        "seconds": round(time.monotonic() - started, 1),
    }


def kill_during_batch(env: dict[str, str], folder: Path, kill_at_people: int, timeout_s: float = 600) -> dict:
    """``index_people.sh`` over ``folder``; the API is killed (SIGKILL) once ``kill_at_people`` people are enrolled
    (mid-batch by construction, however fast the machine), restarted, and the batch run again."""
    script = [str(REPO_ROOT / "index_people.sh"), str(folder)]
    api = UvicornAPI(env).start()
    script_env = {**os.environ, "API_KEY": env.get("API_KEY", "")}
    headers = {"X-API-Key": env["API_KEY"]} if env.get("API_KEY") else {}
    batch = subprocess.Popen(
        [*script, api.url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=script_env
    )
    deadline = time.monotonic() + timeout_s
    people_when_killed = 0
    while batch.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            listed = httpx.get(f"{api.url}/api/v1/people", headers=headers, timeout=10).json()["people"]
            people_when_killed = len(listed)
        if people_when_killed >= kill_at_people:
            break
        time.sleep(0.02)
    batch_was_running = batch.poll() is None
    api.stop(crash=True)
    first_output = batch.communicate(timeout=600)[0]
    restarted = UvicornAPI(env).start()
    try:
        again = subprocess.run([*script, restarted.url], capture_output=True, text=True, timeout=3600, env=script_env)
        people = httpx.get(f"{restarted.url}/api/v1/people", headers=headers, timeout=60).json()["people"]
    finally:
        restarted.stop()
    expected = sorted(p.name.replace("_", " ") for p in folder.iterdir() if p.is_dir())
    summary_line = next((line for line in first_output.splitlines() if line.startswith("enrolled ")), "")
    # photos the service refuses for what they show (no face, several similar faces, poor quality) are refused
    # again on every run; everything else must be enrolled exactly once
    refusals: dict[str, int] = {}
    refused_people = set()
    for line in again.stderr.splitlines():
        if " FAIL " in line and "(HTTP 422)" in line:
            refused_people.add(line.split(" FAIL ", 1)[1].strip().split("/", 1)[0].replace("_", " "))
            message = json.loads(line.split("(HTTP 422): ", 1)[1])["msg"]
            reason = message.split(":")[0].split(" (")[0]
            refusals[reason] = refusals.get(reason, 0) + 1
    names = sorted(p["name"] for p in people)
    return {
        "people_in_folder": len(expected),
        "people_when_killed": people_when_killed,
        "batch_was_running_when_killed": batch_was_running,
        "first_run_before_the_kill": summary_line,
        "second_run": again.stdout.strip().splitlines()[-1] if again.stdout.strip() else again.stderr[-300:],
        "photos_refused_for_their_content": refusals,
        "people_enrolled": len(people),
        "faces_per_person": sorted({p["faces"] for p in people}),
        "every_person_exactly_once": names == sorted(set(expected) - refused_people)
        and all(p["faces"] == 1 for p in people),
    }


def schemathesis_run(url: str, key: str | None, max_examples: int, seed: int = 0, max_time_s: int = 600) -> dict:
    """Schemathesis against the API's own OpenAPI (examples, coverage, fuzzing and stateful phases; links included):
    the number of generated cases and of server errors."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
            "--checks", "not_a_server_error", "--max-examples", str(max_examples), "--seed", str(seed),
            "--max-time", str(max_time_s), "--workers", "1", "--no-color",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--generation-database", "none", "--report", "json", "--report-json-path", str(report),
            "--continue-on-failure", "--request-timeout", "60",
        ]  # fmt: skip
        if key:
            command += ["-H", f"X-API-Key: {key}"]
        started = time.monotonic()
        # run in the temporary folder: schemathesis writes a crash cache into its working directory
        result = subprocess.run(command, capture_output=True, text=True, timeout=max_time_s + 300, cwd=folder)
        summary = json.loads(report.read_text()) if report.is_file() else {}
    return {
        "exit_code": result.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "report": summary,
        "output_tail": result.stdout[-3000:],
    }


def soak(api: UvicornAPI, key: str | None, image: bytes, rate: float, seconds: float, sample_every_s: float) -> dict:
    """``rate`` recognitions a second for ``seconds``: errors, latencies and the server's resident memory over time."""
    headers = {"X-API-Key": key} if key else {}
    pid = api.process.pid
    statuses: list[int] = []
    latencies: list[float] = []
    samples: list[tuple[float, int]] = []
    lock = threading.Lock()
    client = httpx.Client(base_url=api.url, headers=headers, timeout=30, limits=httpx.Limits(max_connections=16))

    def one() -> None:
        started = time.monotonic()
        try:
            status = client.post(
                "/api/v1/recognize", files={"image": ("q.jpg", image, "image/jpeg")}, params={"detect": "false"}
            ).status_code
        except httpx.HTTPError:
            status = 0
        with lock:
            statuses.append(status)
            latencies.append(time.monotonic() - started)

    begin = time.monotonic()
    next_sample, threads, i = begin, [], 0
    while (now := time.monotonic()) - begin < seconds:
        if now >= next_sample:
            samples.append((round(now - begin, 1), rss_bytes(pid)))
            next_sample += sample_every_s
        due = begin + i / rate
        if now >= due:
            thread = threading.Thread(target=one)
            thread.start()
            threads.append(thread)
            i += 1
        else:
            time.sleep(min(due - now, 0.01))
    for thread in threads:
        thread.join()
    samples.append((round(time.monotonic() - begin, 1), rss_bytes(pid)))
    client.close()
    ordered = sorted(latencies)
    # growth from the end of the first tenth (allocator and caches settled) to the end
    settled = samples[max(1, len(samples) // 10)][1]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "requests": len(statuses),
        "errors": sum(s != 200 for s in statuses),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "latency_p50_ms": round(1000 * ordered[len(ordered) // 2], 1) if ordered else None,
        "latency_p99_ms": round(1000 * ordered[int(len(ordered) * 0.99)], 1) if ordered else None,
        "rss_settled_mb": round(settled / 2**20, 1),
        "rss_end_mb": round(samples[-1][1] / 2**20, 1),
        "rss_growth_after_settling": round(samples[-1][1] / settled - 1, 4),
        "rss_samples": [(t, round(r / 2**20, 1)) for t, r in samples],
    }


def outage_and_recovery(api: UvicornAPI, key: str | None, backend, request, recovery_timeout_s: float = 60) -> dict:
    """``request(client)`` before, during and after an outage of ``backend`` (a server with stop/start on the same
    port and data): statuses, the message during the outage, /ready, and how long recovery took."""
    headers = {"X-API-Key": key} if key else {}
    with httpx.Client(base_url=api.url, headers=headers, timeout=60) as client:
        before = request(client).status_code
        backend.stop()
        during = request(client)
        ready_during = client.get("/ready")
        backend.start()
        started = time.monotonic()
        after = ready_after = None
        while time.monotonic() - started < recovery_timeout_s:
            ready_after = client.get("/ready").status_code
            after = request(client).status_code
            if ready_after == 200 and after < 500:
                break
            time.sleep(0.5)
        return {
            "before": before,
            "during": during.status_code,
            "during_msg": during.json().get("msg"),
            "ready_during": ready_during.status_code,
            "ready_during_detail": ready_during.json().get("detail"),
            "after": after,
            "ready_after": ready_after,
            "recovery_seconds": round(time.monotonic() - started, 1),
        }
