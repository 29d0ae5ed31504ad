"""The HTTP contract on a tiny model (no LFW): shapes of answers and errors, every route's declared model."""

from __future__ import annotations

from facerec.testing.synthetic import synthetic_face

from .helpers import jpeg, post_index, post_recognize


def test_every_route_declares_its_response_model(tiny_client):
    client = tiny_client()
    operations = {
        (method, path): operation
        for path, item in client.get("/openapi.json").json()["paths"].items()
        for method, operation in item.items()
    }
    assert {path for _, path in operations} >= {"/api/v1/index", "/api/v1/recognize", "/api/v1/model", "/ready"}
    untyped = []
    for key, operation in operations.items():
        success = next(v for status, v in operation["responses"].items() if status.startswith("2"))
        if "$ref" not in success.get("content", {}).get("application/json", {}).get("schema", {}):
            untyped.append(key)
    assert untyped == []


def test_enrol_recognise_and_model_answers_on_a_crop(tiny_client):
    client = tiny_client()
    created = post_index(client, jpeg(synthetic_face(1)), "Ann", detect="false")
    assert created.status_code == 201 and created.json()["faces_detected"] == 1
    answer = post_recognize(client, jpeg(synthetic_face(1, 1)), detect="false", k=1).json()
    assert answer["results"]["pred"] == "Ann" and answer["faces"][0]["candidates"][0]["name"] == "Ann"
    model = client.get("/api/v1/model").json()
    assert model["error"] is False and model["encoder"]["backbone"] == "test_efficientnet"
    assert model["preprocess"]["image_size"] == 64 and model["runtime"] == "onnx"
    assert model["calibration"] == "open-set" and model["unknown_threshold"] == model["open_set"]["threshold"]
    assert 0 < model["open_set"]["stranger_share"] == model["open_set"]["stranger_share_fitted"] < 1
    assert model["open_set"]["evidence"][-1] == "gallery_z"  # bundles fitted today read the person's side too


def test_no_face_answers_422_with_the_one_message(tiny_client):
    client = tiny_client()
    blank = jpeg(synthetic_face(1).point(lambda _: 128))
    for response in (post_index(client, blank, "Ann"), post_recognize(client, blank)):
        body = response.json()
        assert response.status_code == 422 and body["error"] is True
        assert body["msg"] == "no face found in the image (send a clearer photo, or detect=false for a face crop)"
        assert body["request_id"] == response.headers["x-request-id"]
