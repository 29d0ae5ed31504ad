"""Request helpers shared by the API tests."""

from __future__ import annotations

import io
import os
import struct
import uuid
import zlib

import pytest
from PIL import Image

from facerec.serve.settings import Settings

ES_URL = os.environ.get("ES_URL")


def jpeg(path_or_image, **save) -> bytes:
    image = Image.open(path_or_image) if isinstance(path_or_image, str) else path_or_image
    buffer = io.BytesIO()
    image.save(buffer, format=save.pop("format", "JPEG"), **save)
    return buffer.getvalue()


def post_index(client, data: bytes, name: str, **params):
    return client.post(
        "/api/v1/index", files={"image": ("face.jpg", data, "image/jpeg")}, data={"name": name}, params=params
    )


def post_recognize(client, data: bytes, **params):
    return client.post("/api/v1/recognize", files={"image": ("face.jpg", data, "image/jpeg")}, params=params)


BACKENDS = [
    "embedded",
    "noida-elasticsearch",
    pytest.param(
        "real-elasticsearch",
        marks=pytest.mark.skipif(not ES_URL, reason="set ES_URL to run the suite against a real Elasticsearch 8"),
    ),
]


def settings_for(backend: str, tmp_path, bundle_dir, request, **overrides) -> Settings:
    values = {
        "model_uri": str(bundle_dir),
        "index": {"path": str(tmp_path / "faces.sqlite3")},
        "limits": {"upload_bytes": 300_000},
        "inference": {"workers": 2, "threads": 1},
    }
    if backend != "embedded":
        es_url = ES_URL if backend == "real-elasticsearch" else request.getfixturevalue("noida").url
        values["index"]["backend"] = "elasticsearch"
        values["es"] = {"url": es_url, "index": f"faces-test-{uuid.uuid4().hex[:8]}"}
    return Settings(_env_file=None, **(values | overrides))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body
