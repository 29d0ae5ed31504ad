"""Authentication, size and rate limits, CORS and the one error shape, all before a route reads a byte."""

from __future__ import annotations

import asyncio
import logging

import pytest

from api.guard import Guard
from facerec.index import IndexBackendError
from facerec.testing.synthetic import synthetic_face

from .helpers import jpeg, post_index

KEY, OTHER_KEY = "k" * 24, "o" * 24
OUTSIDE = ("203.0.113.9", 40000)  # a client that is not on this machine


def test_without_keys_only_loopback_clients_are_served(tiny_client):
    assert tiny_client().get("/api/v1/people").status_code == 200
    refused = tiny_client(client=OUTSIDE).get("/api/v1/people")
    assert refused.status_code == 403 and "API_KEY" in refused.json()["msg"]
    assert tiny_client(client=OUTSIDE).get("/health").status_code == 403
    assert tiny_client(client=OUTSIDE, allow_unauthenticated=True).get("/api/v1/people").status_code == 200


def test_every_api_route_needs_one_of_the_named_keys(tiny_client):
    client = tiny_client(client=OUTSIDE, api_key=KEY, api_keys=f"webapp={OTHER_KEY}")
    face = jpeg(synthetic_face(1))
    requests = [
        lambda h: client.get("/api/v1/people", headers=h),
        lambda h: client.get("/api/v1/model", headers=h),
        lambda h: client.post("/api/v1/index", files={"image": ("a.jpg", face)}, data={"name": "A"}, headers=h),
        lambda h: client.post("/api/v1/recognize", files={"image": ("a.jpg", face)}, headers=h),
        lambda h: client.delete("/api/v1/people/A", headers=h),
        lambda h: client.delete("/api/v1/faces/123", headers=h),
    ]
    for request in requests:
        for headers in ({}, {"X-API-Key": "wrong" * 5}, {"X-API-Key": KEY[:-1]}):
            response = request(headers)
            assert response.status_code == 401, response.text
            assert response.json()["msg"] == "missing or wrong X-API-Key header"
    assert client.get("/api/v1/people", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/api/v1/people", headers={"X-API-Key": OTHER_KEY}).status_code == 200
    for open_path in ("/health", "/ready", "/metrics", "/openapi.json"):
        assert client.get(open_path).status_code == 200, open_path
    keyed_metrics = tiny_client(client=OUTSIDE, api_key=KEY, metrics_require_key=True)
    assert keyed_metrics.get("/metrics").status_code == 401
    assert keyed_metrics.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_short_keys_are_refused_at_start(tiny_client):
    with pytest.raises(ValueError, match="at least 16"):
        tiny_client(api_key="s3cret")


def raw_request(app, path: str, headers: list[tuple[bytes, bytes]], client=OUTSIDE) -> tuple[int, bool]:
    """Send one request straight to the ASGI app; returns the status and whether the body was ever read."""
    read = False

    async def receive():
        nonlocal read
        read = True
        return {"type": "http.request", "body": b"x" * 1024, "more_body": False}

    status = 0

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": headers, "client": client, "server": ("testserver", 80), "scheme": "http", "app": app,
        "http_version": "1.1", "root_path": "",
    }  # fmt: skip
    asyncio.run(Guard(app)(scope, receive, send))
    return status, read


def test_refusals_happen_before_the_body_is_read(tiny_client):
    app = tiny_client(api_key=KEY).app
    huge = [(b"content-length", str(10**9).encode()), (b"content-type", b"multipart/form-data; boundary=x")]
    assert raw_request(app, "/api/v1/index", huge) == (401, False)  # no key: refused unread
    keyed = [*huge, (b"x-api-key", KEY.encode())]
    assert raw_request(app, "/api/v1/index", keyed) == (413, False)  # too large: refused unread


def test_bodies_over_the_limit_are_refused_while_streaming(tiny_client):
    client = tiny_client(limits={"upload_bytes": 2048, "request_bytes": 64 * 1024})

    def chunks():  # a well-formed multipart start, then a file that never ends (no Content-Length: chunked)
        yield b'--y\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
        for _ in range(100):
            yield b"y" * 4096

    response = client.post(
        "/api/v1/index", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=y"}
    )
    assert response.status_code == 413 and "65,536 bytes" in response.json()["msg"], response.text
    stated = client.post("/api/v1/recognize", content=b"z" * 70_000, headers={"Content-Type": "image/jpeg"})
    assert stated.status_code == 413
    assert client.get("/api/v1/people").json()["total_faces"] == 0


def test_rate_limit_per_key(tiny_client):
    client = tiny_client(api_key=KEY, limits={"requests_per_minute": 3})
    statuses = [client.get("/api/v1/people", headers={"X-API-Key": KEY}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert client.get("/health").status_code == 200


def test_cors_is_off_unless_origins_are_named(tiny_client):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    closed = tiny_client().options("/api/v1/recognize", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    opened = tiny_client(cors_origins="https://app.example").options("/api/v1/recognize", headers=preflight)
    assert opened.status_code == 200 and opened.headers["access-control-allow-origin"] == "https://app.example"


def test_every_error_has_the_one_shape_with_a_request_id(tiny_client):
    client = tiny_client()
    for response in (
        client.get("/no/such/route"),
        client.put("/api/v1/people"),
        client.post("/api/v1/index", data={"name": "A"}),
        post_index(client, b"not an image", "A"),
    ):
        body = response.json()
        assert 400 <= response.status_code < 500 and set(body) == {"error", "msg", "request_id"}, body
        assert body["error"] is True and body["request_id"] == response.headers["x-request-id"]
    echoed = client.get("/nope", headers={"X-Request-ID": "trace-42"})
    assert echoed.json()["request_id"] == "trace-42" == echoed.headers["x-request-id"]


def test_server_errors_hide_their_details_from_the_client_and_log_them(tiny_client, monkeypatch, caplog):
    client = tiny_client()
    index = client.app.state.service.recognizer.index

    def down():
        raise IndexBackendError("Elasticsearch at http://10.0.0.7:9200 refused a search: secret-index")

    def broken():
        raise RuntimeError("bucket s3://private-bucket/prefix is gone")

    monkeypatch.setattr(index, "people", down)
    with caplog.at_level(logging.ERROR, logger="facerec.api"):
        unavailable = client.get("/api/v1/people")
        monkeypatch.setattr(index, "people", broken)
        crashed = client.get("/api/v1/people")
    assert unavailable.status_code == 503 and crashed.status_code == 500
    for response, secret in ((unavailable, "10.0.0.7"), (crashed, "private-bucket")):
        body = response.json()
        assert secret not in response.text and body["request_id"] in body["msg"]
        assert any(body["request_id"] in record.getMessage() for record in caplog.records)
    assert any("private-bucket" in (r.exc_text or "") or "private-bucket" in str(r.exc_info) for r in caplog.records)
