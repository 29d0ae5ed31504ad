"""The dlib teacher and its cache."""

import numpy as np
import pytest

from facerec.train import teacher as teacher_module
from facerec.train.teacher import DlibTeacher, image_key, teacher_embeddings


def test_dlib_teacher_tells_people_apart(lfw_people):
    names = [n for n in sorted(lfw_people) if len(lfw_people[n]) >= 2][:6]
    teacher = DlibTeacher()
    vectors = {n: [teacher.embed_file(p) for p in lfw_people[n][:2]] for n in names}
    for v in vectors.values():
        assert v[0].shape == (128,) and np.linalg.norm(v[0]) == pytest.approx(1.0, abs=1e-5)
    same = [v[0] @ v[1] for v in vectors.values()]
    different = [vectors[a][0] @ vectors[b][0] for a in names for b in names if a < b]
    assert min(same) > max(different), (same, different)


def test_teacher_embeddings_are_cached_and_reused(lfw_people, tmp_path, monkeypatch):
    paths = [p for n in sorted(lfw_people)[:40] for p in lfw_people[n]][:5]
    first = teacher_embeddings(paths, cache_dir=tmp_path, workers=1, log=lambda _: None)
    assert first.shape == (5, 128)
    cache_file = tmp_path / "teacher" / f"{teacher_module.TEACHER_ID}.npz"
    assert cache_file.is_file()
    with np.load(cache_file) as data:
        assert sorted(data["keys"].tolist()) == sorted(image_key(p) for p in paths)

    def no_processes(*args, **kwargs):
        raise AssertionError("cached descriptors were computed again")

    monkeypatch.setattr(teacher_module, "ProcessPoolExecutor", no_processes)
    again = teacher_embeddings(paths[::-1], cache_dir=tmp_path, log=lambda _: None)
    np.testing.assert_array_equal(again, first[::-1])
    np.testing.assert_allclose(first[0], DlibTeacher().embed_file(paths[0]), atol=1e-6)

    cache_file.write_bytes(b"not an npz file")
    monkeypatch.undo()
    recomputed = teacher_embeddings(paths[:2], cache_dir=tmp_path, workers=1, log=lambda _: None)
    np.testing.assert_allclose(recomputed, first[:2], atol=1e-6)
