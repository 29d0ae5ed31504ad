"""The service's behaviour with a real model, on both index backends (embedded, and Elasticsearch via noida-db)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from api.service import Service
from facerec.index import FaceRecord

from .helpers import jpeg, png_bomb, post_index, post_recognize, settings_for


def test_enrol_then_recognise_the_person_and_list_people(client, lfw_people):
    tony = Path(lfw_people["Tony_Blair"][0]).read_bytes()
    response = post_index(client, tony, "Tony Blair")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["error"] is False and body["msg"] == "Created" and body["name"] == "Tony Blair"
    assert len(body["face_id"]) == 32 and body["model_version"] and body["faces_detected"] >= 1
    assert post_index(client, Path(lfw_people["Colin_Powell"][0]).read_bytes(), "Colin Powell").status_code == 201

    result = post_recognize(client, tony, k=2)
    assert result.status_code == 200, result.text
    answer = result.json()
    assert answer["results"]["pred"] == "Tony Blair" and answer["results"]["proba"] >= 0.5, answer
    main = answer["faces"][0]
    assert len(main["box"]) == 4 and main["candidates"][0]["name"] == "Tony Blair"
    assert len(main["candidates"]) == 2 and main["candidates"][0]["similarity"] > 0.9
    # the same LFW crop without detection: the aligned crop and the raw crop stay nearest to each other
    raw = post_recognize(client, tony, detect="false", k=2).json()
    assert raw["faces"][0]["box"] == [0.0, 0.0, 250.0, 250.0]
    assert raw["faces"][0]["candidates"][0]["name"] == "Tony Blair", raw

    people = client.get("/api/v1/people").json()
    assert people["people"] == [{"name": "Colin Powell", "faces": 1}, {"name": "Tony Blair", "faces": 1}]
    assert (people["total_people"], people["total_faces"]) == (2, 2)


def test_a_stranger_is_unknown_never_the_nearest_enrolled_person(client, lfw_people):
    assert post_index(client, Path(lfw_people["Tony_Blair"][0]).read_bytes(), "Tony Blair").status_code == 201
    stranger = Path(lfw_people["Serena_Williams"][0]).read_bytes()
    answer = post_recognize(client, stranger).json()
    assert answer["results"]["pred"] == "unknown", answer
    assert answer["faces"][0]["candidates"][0]["name"] == "Tony Blair"  # the nearest, reported as a candidate only
    # a permissive per-request threshold names the nearest person instead
    assert post_recognize(client, stranger, threshold=0.0).json()["results"]["pred"] == "Tony Blair"


def test_unicode_names_round_trip(client, lfw_people):
    name = "Zoë Ñúñez-李 🙂"
    assert post_index(client, Path(lfw_people["Hugo_Chavez"][0]).read_bytes(), name).status_code == 201
    assert client.get("/api/v1/people").json()["people"] == [{"name": name, "faces": 1}]
    assert post_recognize(client, Path(lfw_people["Hugo_Chavez"][0]).read_bytes()).json()["results"]["pred"] == name
    assert client.delete(f"/api/v1/people/{name}").json()["deleted"] == 1


def test_deleting_a_person_leaves_nothing_of_them_searchable(client, lfw_people):
    tony = [Path(p).read_bytes() for p in lfw_people["Tony_Blair"][:3]]
    ids = [post_index(client, data, "Tony Blair").json()["face_id"] for data in tony]
    assert post_index(client, Path(lfw_people["Colin_Powell"][0]).read_bytes(), "Colin Powell").status_code == 201
    assert sorted(client.app.state.service.recognizer.index.face_ids("Tony Blair")) == sorted(ids)
    response = client.delete("/api/v1/people/Tony Blair")
    assert response.status_code == 200 and response.json()["deleted"] == 3
    for data in tony:
        candidates = post_recognize(client, data, k=10, threshold=0.0).json()["faces"][0]["candidates"]
        assert all(c["name"] != "Tony Blair" for c in candidates) and len(candidates) == 1
    assert client.get("/api/v1/people").json()["people"] == [{"name": "Colin Powell", "faces": 1}]
    missing = client.delete("/api/v1/people/Tony Blair")
    assert missing.status_code == 404 and "no person named" in missing.json()["msg"]


def test_delete_one_face(client, lfw_people):
    face_id = post_index(client, Path(lfw_people["Tony_Blair"][0]).read_bytes(), "Tony Blair").json()["face_id"]
    assert client.delete(f"/api/v1/faces/{face_id}").json() == {"error": False, "msg": "Deleted", "deleted": 1}
    assert client.delete(f"/api/v1/faces/{face_id}").status_code == 404
    assert client.get("/api/v1/people").json()["total_faces"] == 0


def test_verify_two_images(client, lfw_people):
    tony = Path(lfw_people["Tony_Blair"][0]).read_bytes()
    files = {"image1": ("a.jpg", tony, "image/jpeg"), "image2": ("b.jpg", tony, "image/jpeg")}
    body = client.post("/api/v1/verify", files=files).json()
    assert body["same_person"] is True and body["similarity"] > 0.99 and 0.5 <= body["probability"] <= 1
    serena = Path(lfw_people["Serena_Williams"][0]).read_bytes()
    files["image2"] = ("b.jpg", serena, "image/jpeg")
    assert client.post("/api/v1/verify", files=files).json()["same_person"] is False


def test_several_faces_need_an_explicit_choice(client, lfw_people):
    pair = Image.new("RGB", (500, 250))
    pair.paste(Image.open(lfw_people["Tony_Blair"][0]), (0, 0))
    pair.paste(Image.open(lfw_people["Colin_Powell"][0]).resize((200, 200)), (275, 25))
    data = jpeg(pair)
    refused = post_index(client, data, "Someone")
    assert refused.status_code == 422 and "faces found" in refused.json()["msg"] and "face=" in refused.json()["msg"]
    chosen = post_index(client, data, "Tony Blair", face=0)
    assert chosen.status_code == 201 and chosen.json()["box"][2] <= 260  # the larger face, on the left
    answer = post_recognize(client, data).json()
    assert len(answer["faces"]) >= 2 and answer["results"]["pred"] == "Tony Blair"
    assert post_index(client, data, "Nobody", face=9).status_code == 422


def bad_uploads(lfw_people) -> dict[str, tuple[bytes, str, int, str]]:
    real = Path(lfw_people["Tony_Blair"][0]).read_bytes()
    blank = jpeg(Image.new("RGB", (320, 240), (128, 128, 128)))
    return {
        "empty": (b"", "Tony", 422, "empty"),
        "text as jpg": (b"hello, I am not an image\n" * 10, "Tony", 422, "not a readable image"),
        "truncated jpeg": (real[: len(real) // 2], "Tony", 422, "truncated"),
        "decompression bomb": (png_bomb(), "Tony", 422, "pixels"),
        "over the size limit": (os.urandom(400_000), "Tony", 413, "limit"),
        "no face": (blank, "Tony", 422, "no face"),
        "empty name": (real, "   ", 422, "name is empty"),
        "overlong name": (real, "x" * 500, 422, "limit is 128"),
        "control characters": (real, "Tony\x00Blair", 422, "control"),
        "newline in name": (real, "Tony\nBlair", 422, "control"),
    }


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(client, lfw_people):
    assert post_index(client, Path(lfw_people["Colin_Powell"][0]).read_bytes(), "Colin Powell").status_code == 201
    before = client.get("/api/v1/people").json()
    for case, (data, name, status, message) in bad_uploads(lfw_people).items():
        response = post_index(client, data, name)
        assert response.status_code == status, (case, response.text)
        body = response.json()
        assert body["error"] is True and message in body["msg"], (case, body)
        if name == "Tony":
            recognised = post_recognize(client, data)
            assert 400 <= recognised.status_code < 500, (case, recognised.text)
    missing_name = client.post("/api/v1/index", files={"image": ("a.jpg", b"x", "image/jpeg")})
    assert missing_name.status_code == 422 and "name" in missing_name.json()["msg"]
    missing_image = client.post("/api/v1/index", data={"name": "Tony"})
    assert missing_image.status_code == 415 and "image" in missing_image.json()["msg"]
    assert client.get("/api/v1/people").json() == before


def test_image_formats_modes_and_exif_orientation(client, lfw_people):
    path = lfw_people["Gerhard_Schroeder"][0]
    assert post_index(client, Path(path).read_bytes(), "Gerhard").status_code == 201
    face = Image.open(path).convert("RGB")
    rgba = face.convert("RGBA")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    variants = {
        "png rgba": jpeg(rgba, format="PNG"),
        "grayscale": jpeg(face.convert("L")),
        "cmyk": jpeg(face.convert("CMYK")),
        "webp": jpeg(face, format="WEBP", quality=90),
        "exif rotated": jpeg(face.transpose(Image.Transpose.ROTATE_90), exif=exif),
    }
    for variant, data in variants.items():
        answer = post_recognize(client, data)
        assert answer.status_code == 200, (variant, answer.text)
        assert answer.json()["results"]["pred"] == "Gerhard", (variant, answer.json())


def test_searching_vectors_of_another_model_is_refused_until_reindexed(client, service, lfw_people):
    post_index(client, Path(lfw_people["Tony_Blair"][0]).read_bytes(), "Tony Blair")
    old = next(iter(service.recognizer.index.records()))
    service.recognizer.index.add([FaceRecord("Old Tony", old.vector, "older-model-v0", crop_jpeg=old.crop_jpeg)])
    refused = post_recognize(client, Path(lfw_people["Tony_Blair"][0]).read_bytes())
    assert refused.status_code == 409 and "older-model-v0" in refused.json()["msg"]
    assert "facerec.serve.reindex" in refused.json()["msg"]
    assert service.recognizer.reindex() == 1
    answer = post_recognize(client, Path(lfw_people["Tony_Blair"][0]).read_bytes(), k=5)
    assert answer.status_code == 200 and {c["name"] for c in answer.json()["faces"][0]["candidates"]} == {
        "Tony Blair",
        "Old Tony",
    }


def test_health_ready_metrics_and_docs(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["faces"] == 0
    model = client.get("/api/v1/model").json()
    assert model["runtime"] == "onnx" and model["split_people"] == {"train": 60, "dev": 60, "test": 60}
    client.get("/api/v1/people")
    metrics = client.get("/metrics").text
    assert 'facerec_requests_total{method="GET",route="/api/v1/people",status="200"} 1.0' in metrics
    assert "facerec_faces_indexed 0.0" in metrics and "facerec_request_seconds_bucket" in metrics
    assert client.get("/docs").status_code == 200 and "/api/v1/recognize" in client.get("/openapi.json").text


def test_api_key_guards_mutating_and_recognising_routes(tmp_path, bundle_dir, lfw_people, request):
    settings = settings_for("embedded", tmp_path, bundle_dir, request, api_key="s3cret-s3cret-s3cret")
    service = Service.start(settings)
    try:
        with TestClient(create_app(service=service)) as client:
            data = Path(lfw_people["Tony_Blair"][0]).read_bytes()
            for headers in ({}, {"X-API-Key": "wrong"}):
                for response in (
                    client.post("/api/v1/index", files={"image": ("a.jpg", data)}, data={"name": "T"}, headers=headers),
                    client.post("/api/v1/recognize", files={"image": ("a.jpg", data)}, headers=headers),
                    client.delete("/api/v1/people/T", headers=headers),
                    client.get("/api/v1/people", headers=headers),
                ):
                    assert response.status_code == 401 and "X-API-Key" in response.json()["msg"]
            key = {"X-API-Key": "s3cret-s3cret-s3cret"}
            assert client.get("/api/v1/people", headers=key).json()["total_faces"] == 0
            ok = client.post("/api/v1/index", files={"image": ("a.jpg", data)}, data={"name": "T"}, headers=key)
            assert ok.status_code == 201
    finally:
        service.close()


def test_original_photos_kept_in_s3_re_embed_and_leave_with_their_faces(tmp_path, bundle_dir, lfw_people, request):
    s3 = request.getfixturevalue("s3_server")
    settings = settings_for(
        "embedded",
        tmp_path,
        bundle_dir,
        request,
        originals_uri="s3://originals/faces",
        s3=s3.config(),
    )
    stored = s3.root / "originals" / "faces"
    service = Service.start(settings)
    try:
        with TestClient(create_app(service=service)) as client:
            tony = Path(lfw_people["Tony_Blair"][0]).read_bytes()
            first = post_index(client, tony, "Tony Blair", face=0).json()["face_id"]
            second = post_index(client, Path(lfw_people["Tony_Blair"][1]).read_bytes(), "Tony Blair", face=0).json()
            serena = post_index(client, Path(lfw_people["Serena_Williams"][0]).read_bytes(), "Serena", detect=False)
            assert (stored / first).read_bytes() == tony
            assert json.loads((stored / f"{first}.json").read_text())["detect"] is True
            assert len(list(stored.iterdir())) == 6

            # a "new model": re-embedding from the originals detects and aligns again, and finds the same vectors
            index = service.recognizer.index
            before = {r.face_id: r.vector for r in index.records()}
            index.update_vectors([(f, np.ones(300, np.float32) / np.sqrt(300), "older-model-v0") for f in before])
            assert service.recognizer.reindex("originals") == 3
            for record in index.records():
                assert record.model_version == service.recognizer.model_version
                assert float(np.dot(record.vector, before[record.face_id])) > 0.9999

            assert client.delete(f"/api/v1/faces/{second['face_id']}").status_code == 200
            assert not (stored / second["face_id"]).exists()
            assert client.delete("/api/v1/people/Tony Blair").json()["deleted"] == 1
            assert sorted(p.name for p in stored.iterdir()) == sorted(
                [serena.json()["face_id"], f"{serena.json()['face_id']}.json"]
            )

            # S3 down: enrolments and deletions are refused with a 503 and the index keeps exactly what it had
            s3.stop()
            refused = post_index(client, tony, "Tony Blair", face=0)
            assert refused.status_code == 503 and "S3 storage is unavailable" in refused.json()["msg"]
            assert s3.endpoint_url not in refused.text  # the details are for the operator's log
            assert client.delete("/api/v1/people/Serena").status_code == 503
            assert client.get("/api/v1/people").json()["people"] == [{"name": "Serena", "faces": 1}]
    finally:
        service.close()
