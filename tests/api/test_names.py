"""Names are data, never syntax: any printable name enrols, lists and deletes exactly itself."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from facerec.testing.synthetic import synthetic_face

from .helpers import jpeg, post_index

NAMES = [
    "AC/DC",
    "Tom?x",
    "Tom",
    "Tom#1",
    "100% Real",
    "A+B",
    "Zoë Ñúñez-李 🙂",
    "  spaced  out ",
    "a/../b",
    "@file",
    "<in",
]


def test_every_name_round_trips_and_a_delete_removes_exactly_it(tiny_client):
    client = tiny_client()
    for i, name in enumerate(NAMES):
        assert post_index(client, jpeg(synthetic_face(i)), name, detect="false").status_code == 201, name
    stored = {p["name"] for p in client.get("/api/v1/people").json()["people"]}
    assert stored == {n.strip() for n in NAMES}
    for name in NAMES:
        response = client.delete(f"/api/v1/people/{quote(name.strip(), safe='')}")
        assert response.status_code == 200 and response.json()["deleted"] == 1, (name, response.text)
        stored.discard(name.strip())
        assert {p["name"] for p in client.get("/api/v1/people").json()["people"]} == stored, name
    assert client.get("/api/v1/people").json()["total_faces"] == 0


@pytest.mark.parametrize(
    ("name", "message"), [("Tom\x00", "control"), ("a\u2028b", "control"), ("x" * 200, "limit"), ("..", "URL")]
)
def test_names_that_cannot_be_shown_are_refused(tiny_client, name, message):
    response = post_index(tiny_client(), jpeg(synthetic_face(1)), name, detect="false")
    assert response.status_code == 422 and message in response.json()["msg"]


def test_deleting_an_unknown_person_or_face_is_a_404_that_changes_nothing(tiny_client):
    client = tiny_client()
    post_index(client, jpeg(synthetic_face(1)), "Tom", detect="false")
    for path in ("/api/v1/people/Tom%3Fx", "/api/v1/people/To", "/api/v1/faces/0123", "/api/v1/people/Tom%2F"):
        assert client.delete(path).status_code == 404, path
    assert client.get("/api/v1/people").json()["people"] == [{"name": "Tom", "faces": 1}]
