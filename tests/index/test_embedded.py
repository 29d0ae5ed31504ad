"""The embedded index on its own: SQLite is the truth, FAISS follows it, only the serving model is searchable."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.index import FaceRecord
from facerec.index.embedded import EmbeddedIndex


def unit(seed: int, dim: int = 8) -> np.ndarray:
    vector = np.random.RandomState(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def index(tmp_path):
    index = EmbeddedIndex(tmp_path / "faces.sqlite3", dim=8, model_version="m1")
    index.connect()
    yield index
    index.close()


def test_search_finds_the_nearest_faces_of_the_serving_model(index):
    index.add([FaceRecord(f"P{i}", unit(i), "m1") for i in range(5)] + [FaceRecord("Old", unit(0), "m0")])
    (matches,) = index.search(unit(3)[None], k=2, model_version="m1")
    assert matches[0].name == "P3" and matches[0].similarity == pytest.approx(1.0, abs=1e-6)
    assert len(matches) == 2 and "Old" not in {m.name for m in matches}
    assert index.model_versions() == {"m1": 5, "m0": 1} and index.count() == 6
    with pytest.raises(ValueError, match="serves model m1"):
        index.search(unit(3)[None], k=1, model_version="m0")


def test_what_was_acknowledged_survives_a_reopen(index, tmp_path):
    records = [FaceRecord("Ann", unit(1), "m1", crop_jpeg=b"jpeg"), FaceRecord("Bob", unit(2), "m1")]
    index.add(records)
    reopened = EmbeddedIndex(tmp_path / "faces.sqlite3", dim=8, model_version="m1")
    reopened.connect()
    assert reopened.people() == {"Ann": 1, "Bob": 1}
    assert reopened.search(unit(2)[None], 1, "m1")[0][0].face_id == records[1].face_id
    assert {r.face_id: r.crop_jpeg for r in reopened.records()} == {
        records[0].face_id: b"jpeg",
        records[1].face_id: None,
    }
    reopened.close()


def test_deletes_remove_exactly_what_they_name(index):
    ann = [FaceRecord("Ann", unit(i), "m1") for i in range(3)]
    index.add([*ann, FaceRecord("Ann B", unit(9), "m1")])
    assert index.delete_faces([ann[0].face_id]) == 1 and index.delete_faces([ann[0].face_id]) == 0
    assert index.delete_faces(index.face_ids("Ann")) == 2 and index.face_ids("Ann") == []
    assert index.people() == {"Ann B": 1}
    assert [m.name for m in index.search(unit(1)[None], 5, "m1")[0]] == ["Ann B"]


def test_re_embedding_makes_faces_searchable_by_the_new_model(index):
    old = FaceRecord("Ann", unit(1), "m0")
    index.add([old])
    assert index.search(unit(1)[None], 1, "m1") == [[]]
    index.update_vectors([(old.face_id, unit(5), "m1")])
    assert index.search(unit(5)[None], 1, "m1")[0][0].name == "Ann" and index.model_versions() == {"m1": 1}


def test_a_second_process_on_the_same_file_sees_every_change_at_its_next_request(index, tmp_path):
    other = EmbeddedIndex(tmp_path / "faces.sqlite3", dim=8, model_version="m1")
    other.connect()
    rebuilds = []
    original_rebuild = other._rebuild
    other._rebuild = lambda: rebuilds.append(1) or original_rebuild()
    index.add([FaceRecord("Ann", unit(1), "m1"), FaceRecord("Bob", unit(2), "m1")])
    assert other.search(unit(2)[None], 1, "m1")[0][0].name == "Bob"
    assert rebuilds == []  # additions are taken in row by row, without a rebuild
    bob = index.face_ids("Bob")
    index.delete_faces(bob)
    assert [m.name for m in other.search(unit(2)[None], 5, "m1")[0]] == ["Ann"]
    # an external reindex to another model: the running process notices (no stale 409 until a restart)
    index.update_vectors([(index.face_ids("Ann")[0], unit(3), "m2")])
    assert other.model_versions() == {"m2": 1} and other.search(unit(3)[None], 1, "m1") == [[]]
    # and its own writes after catching up keep both in step
    other.add([FaceRecord("Cy", unit(4), "m1")])
    assert index.search(unit(4)[None], 1, "m1")[0][0].name == "Cy"
    other.close()


def test_re_embedding_in_chunks_never_rebuilds_the_search_index(index, monkeypatch):
    records = [FaceRecord(f"P{i}", unit(i), "m0") for i in range(100)]
    index.add(records)
    monkeypatch.setattr(index, "_rebuild", lambda: pytest.fail("a rebuild during re-embedding"))
    streamed = 0
    for start in range(0, 100, 32):
        chunk = list(index.records())[start : start + 32]
        streamed += len(chunk)
        index.update_vectors([(r.face_id, unit(1000 + int(r.name[1:])), "m1") for r in chunk])
    assert streamed == 100 and index.model_versions() == {"m1": 100}
    (matches,) = index.search(unit(1042)[None], 1, "m1")
    assert matches[0].name == "P42" and matches[0].similarity == pytest.approx(1.0, abs=1e-5)
