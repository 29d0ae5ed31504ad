"""A probe of malformed and hostile requests: every one gets a 4xx in the one error shape, none a 500, and nothing
stored changes."""

from __future__ import annotations

import io
import json

from PIL import Image

from facerec.testing.synthetic import synthetic_face

from .helpers import jpeg, png_bomb, post_index


def image(size: tuple[int, int], fmt: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 110, 100)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def hostile_requests(face: bytes) -> dict[str, tuple[str, str, dict]]:
    """name -> (method, path, httpx keyword arguments)."""
    gif_frames = io.BytesIO()
    frames = [synthetic_face(1), synthetic_face(2)]
    frames[0].save(gif_frames, format="PNG", save_all=True, append_images=frames[1:])
    json_type = {"Content-Type": "application/json"}
    with_face = {"files": {"image": ("a.jpg", face)}}
    return {
        "1x1 png": ("POST", "/api/v1/index", {"files": {"image": ("a.png", image((1, 1)))}, "data": {"name": "A"}}),
        "1x1 png recognise": ("POST", "/api/v1/recognize", {"files": {"image": ("a.png", image((1, 1)))}}),
        "1-pixel strip": ("POST", "/api/v1/recognize", {"files": {"image": ("a.png", image((3000, 1)))}}),
        "wide strip": ("POST", "/api/v1/recognize", {"files": {"image": ("a.png", image((4000, 60)))}}),
        "30 px photo": ("POST", "/api/v1/recognize", {"files": {"image": ("a.png", image((30, 30)))}}),
        "png bomb": ("POST", "/api/v1/index", {"files": {"image": ("b.png", png_bomb())}, "data": {"name": "A"}}),
        "gif": ("POST", "/api/v1/recognize", {"files": {"image": ("a.gif", image((64, 64), "GIF"))}}),
        "tiff": ("POST", "/api/v1/recognize", {"files": {"image": ("a.tif", image((64, 64), "TIFF"))}}),
        "animated png": ("POST", "/api/v1/recognize", {"files": {"image": ("a.png", gif_frames.getvalue())}}),
        "truncated jpeg": ("POST", "/api/v1/recognize", {"files": {"image": ("a.jpg", face[: len(face) // 3])}}),
        "zero bytes": ("POST", "/api/v1/recognize", {"files": {"image": ("a.jpg", b"")}}),
        "text file": ("POST", "/api/v1/recognize", {"files": {"image": ("a.jpg", b"<?php system($_GET['c']); ?>")}}),
        "image as a form field": ("POST", "/api/v1/index", {"data": {"image": "x" * 100, "name": "A"}}),
        "no name": ("POST", "/api/v1/index", {"files": {"image": ("a.jpg", face)}}),
        "null byte name": ("POST", "/api/v1/index", {"files": {"image": ("a.jpg", face)}, "data": {"name": "A\0B"}}),
        "10k-char name": ("POST", "/api/v1/index", with_face | {"data": {"name": "x" * 10_000}}),
        "face = -1": ("POST", "/api/v1/index?face=-1", {"files": {"image": ("a.jpg", face)}, "data": {"name": "A"}}),
        "k = 10^9": ("POST", "/api/v1/recognize?k=1000000000", {"files": {"image": ("a.jpg", face)}}),
        "threshold = nan": ("POST", "/api/v1/recognize?threshold=nan", {"files": {"image": ("a.jpg", face)}}),
        "detect = maybe": ("POST", "/api/v1/recognize?detect=maybe", {"files": {"image": ("a.jpg", face)}}),
        "json that is not json": (
            "POST", "/api/v1/recognize", {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        ),
        "json array": ("POST", "/api/v1/index", {"content": b"[1, 2]", "headers": json_type}),
        "json deep nesting": (
            "POST", "/api/v1/index",
            {"content": b"[" * 5000 + b"]" * 5000, "headers": {"Content-Type": "application/json"}},
        ),
        "image_url to metadata service": (
            "POST", "/api/v1/index", {"json": {"image_url": "http://169.254.169.254/latest/", "name": "A"}},
        ),
        "image_url gopher": ("POST", "/api/v1/recognize", {"json": {"image_url": "gopher://127.0.0.1:25/x"}}),
        "malformed multipart": (
            "POST", "/api/v1/index",
            {"content": b"--z\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=z"}},
        ),
        "multipart without boundary": (
            "POST", "/api/v1/index", {"content": b"abc", "headers": {"Content-Type": "multipart/form-data"}},
        ),
        "form-urlencoded": ("POST", "/api/v1/recognize", {"data": {"image": "abc"}}),
        "path traversal delete": ("DELETE", "/api/v1/people/..%2F..%2Fetc%2Fpasswd", {}),
        "huge face id": ("DELETE", "/api/v1/faces/" + "f" * 5000, {}),
        "unknown method": ("PATCH", "/api/v1/people", {}),
        "unknown route": ("GET", "/api/v2/anything", {}),
    }  # fmt: skip


def test_hostile_inputs_get_4xx_in_the_one_shape_and_change_nothing(tiny_client):
    client = tiny_client()
    face = jpeg(synthetic_face(5))
    assert post_index(client, face, "Keeper", detect="false").status_code == 201
    before = client.get("/api/v1/people").json()
    cases = hostile_requests(face)
    assert len(cases) >= 25
    answers = {}
    for case, (method, path, kwargs) in cases.items():
        response = client.request(method, path, **kwargs)
        answers[case] = response.status_code
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:300])
        body = response.json()
        assert body["error"] is True and body["msg"] and body["request_id"], (case, body)
        assert "Traceback" not in response.text and "object at 0x" not in response.text, case
    assert client.get("/api/v1/people").json() == before, json.dumps(answers)
