"""What every index backend answers alike: the embedded index, and Elasticsearch (noida-db's emulation of its 8.x
API; a real cluster where ES_URL is set)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from facerec.index import FaceRecord
from facerec.index.elastic import ElasticsearchIndex
from facerec.index.embedded import EmbeddedIndex

from ..api.helpers import ES_URL
from .test_embedded import unit

BACKENDS = [
    "embedded",
    pytest.param("noida-elasticsearch", marks=pytest.mark.slow),
    pytest.param(
        "real-elasticsearch",
        marks=pytest.mark.skipif(not ES_URL, reason="set ES_URL to run the suite against a real Elasticsearch 8"),
    ),
]


@pytest.fixture(params=BACKENDS)
def index(request, tmp_path):
    if request.param == "embedded":
        index = EmbeddedIndex(tmp_path / "faces.sqlite3", dim=8, model_version="m1")
    else:
        url = ES_URL if request.param == "real-elasticsearch" else request.getfixturevalue("noida").url
        index = ElasticsearchIndex(url, f"faces-test-{uuid.uuid4().hex[:8]}", dim=8)
    index.connect()
    yield index
    index.close()


def test_person_vectors_are_every_face_of_the_people_named_for_one_model(index):
    index.add([FaceRecord("A", unit(i), "m1") for i in range(3)] + [FaceRecord("B", unit(5), "m1")])
    index.add([FaceRecord("A", unit(9), "m0"), FaceRecord("C", unit(7), "m1")])
    found = index.person_vectors(["A", "B", "Nobody"], "m1")
    assert set(found) == {"A", "B"}  # not C, who was not asked for; Nobody has no faces
    rows = sorted(found["A"].tolist())  # one row per m1 face of A, not the m0 one (order is the backend's)
    assert np.allclose(rows, sorted(np.stack([unit(i) for i in range(3)]).tolist()), atol=1e-6)
    assert found["B"].shape == (1, 8) and index.person_vectors([], "m1") == {}
    assert index.delete_faces(index.face_ids("B")) == 1
    assert set(index.person_vectors(["A", "B"], "m1")) == {"A"}
