"""The original JSON contract next to multipart, and a URL fetch that cannot reach the server's own network."""

from __future__ import annotations

import base64

import pytest

from facerec.testing.servers import ImageHost
from facerec.testing.synthetic import synthetic_face

from .helpers import jpeg, post_index, post_recognize


@pytest.fixture
def image_host():
    host = ImageHost(jpeg(synthetic_face(1)), delay_s=2.0).start()
    yield host
    host.stop()


@pytest.fixture
def public_host():
    """A server on 127.0.0.2, which the tests declare public with FETCH_ALLOWED_NETWORKS."""
    host = ImageHost(jpeg(synthetic_face(2)), host="127.0.0.2").start()
    yield host
    host.stop()


def test_json_with_image_url_or_base64_answers_like_multipart(tiny_client, image_host):
    client = tiny_client(allow_private_image_urls=True)
    body = {"image_url": f"{image_host.url}/image", "image_format": "jpg", "name": "Ann"}
    created = client.post("/api/v1/index", json=body, params={"detect": "false"})
    assert created.status_code == 201, created.text
    photo = jpeg(synthetic_face(1, 1))
    by_url = client.post("/api/v1/recognize", json={"image_url": f"{image_host.url}/image"}, params={"detect": "false"})
    by_base64 = client.post(
        "/api/v1/recognize", json={"image_base64": base64.b64encode(photo).decode()}, params={"detect": "false"}
    )
    by_upload = post_recognize(client, photo, detect="false")
    assert by_url.json()["results"]["pred"] == "Ann"
    assert by_base64.json()["faces"] == by_upload.json()["faces"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Ann"}, "exactly one of image_url and image_base64"),
        ({"image_url": "http://a/x.jpg", "image_base64": "AAAA", "name": "A"}, "exactly one"),
        ({"image_base64": "not base64!", "name": "Ann"}, "not valid base64"),
        ({"image_url": "file:///etc/passwd", "name": "Ann"}, "http:// or https://"),
        ({"image_url": "ftp://example.org/a.jpg", "name": "Ann"}, "http:// or https://"),
        ({"image_url": "http://user:pw@example.org/a.jpg", "name": "Ann"}, "credentials"),
        ({"image_url": "http://no-such-host.invalid/a.jpg", "name": "Ann"}, "does not resolve"),
        ({"image_url": "http://[::1]:9/a.jpg", "name": "Ann"}, "loopback"),
        ({"image_url": "http://169.254.169.254/latest/meta-data", "name": "Ann"}, "link-local"),
        ({"image_url": "http://10.0.0.1/a.jpg", "name": "Ann"}, "private"),
        ({"image_url": "http://[::ffff:127.0.0.1]/a.jpg", "name": "Ann"}, "loopback"),
        ({"image_url": "http://0.0.0.0/a.jpg", "name": "Ann"}, "unspecified"),
        ({"image_url": "http://224.0.0.1/a.jpg", "name": "Ann"}, "multicast"),
    ],
)
def test_bad_json_and_forbidden_urls_are_clear_4xx(tiny_client, body, message):
    response = tiny_client().post("/api/v1/index", json=body)
    assert response.status_code == 422 and message in response.json()["msg"], response.text


def test_loopback_is_refused_unless_allowed_and_a_redirect_is_checked_again(tiny_client, image_host, public_host):
    url = {"image_url": f"{image_host.url}/image"}
    refused = tiny_client().post("/api/v1/recognize", json=url)
    assert refused.status_code == 422 and "loopback" in refused.json()["msg"] and image_host.requests == []
    # 127.0.0.2 counts as public here; its redirect to 127.0.0.1 is checked like a first request, and refused
    client = tiny_client(fetch={"allowed_networks": "127.0.0.2/32"})
    ok = client.post("/api/v1/recognize", json={"image_url": f"{public_host.url}/image"}, params={"detect": "false"})
    assert ok.status_code == 200, ok.text
    hop = {"image_url": f"{public_host.url}/redirect?to={image_host.url}/image"}
    redirected = client.post("/api/v1/recognize", json=hop)
    assert redirected.status_code == 422 and "loopback" in redirected.json()["msg"]
    assert image_host.requests == []  # the private server was never contacted


def test_slow_trickling_endless_and_missing_images_end_in_time_with_a_4xx(tiny_client, image_host):
    client = tiny_client(allow_private_image_urls=True, fetch={"timeout_s": 0.5}, limits={"upload_bytes": 200_000})
    cases = {
        "/slow": "did not answer within 0.5 s",
        "/trickle": "took longer than 1 s",
        "/endless": "larger than the limit of 200,000 bytes",
        "/nothing-here": "HTTP 404",
    }
    for path, message in cases.items():
        response = client.post("/api/v1/index", json={"image_url": f"{image_host.url}{path}", "name": "Ann"})
        assert response.status_code == 422 and message in response.json()["msg"], (path, response.text)
    loop = {"image_url": f"{image_host.url}/redirect?to={image_host.url}/redirect?to=/image"}
    assert (
        tiny_client(allow_private_image_urls=True, fetch={"max_redirects": 1})
        .post("/api/v1/index", json=loop | {"name": "A"})
        .json()["msg"]
        == "image_url redirected more than 1 times"
    )
    assert client.get("/api/v1/people").json()["total_faces"] == 0


def test_other_content_types_are_refused(tiny_client):
    response = tiny_client().post("/api/v1/recognize", content=b"\xff\xd8", headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["msg"]
    assert post_index(tiny_client(), b"", "A").status_code == 422
