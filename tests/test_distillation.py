"""The dlib teacher, its cache and the distillation losses."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facerec import teacher as teacher_module
from facerec.data import images_of, split_people
from facerec.encoder import EncoderConfig, FaceEncoder
from facerec.evaluation import build_pairs
from facerec.losses import TeacherDistillationLoss
from facerec.teacher import DlibTeacher, image_key, teacher_embeddings
from facerec.training import TrainConfig, train


def test_relation_loss_is_zero_for_the_teachers_geometry_up_to_scale_and_offset():
    torch.manual_seed(0)
    teacher = F.normalize(torch.randn(12, 6), dim=1)
    loss = TeacherDistillationLoss(embedding_dim=6, teacher_dim=6, mode="relation")
    # an orthogonal rotation keeps every cosine: the student holds the teacher's geometry exactly
    rotation, _ = torch.linalg.qr(torch.randn(6, 6))
    assert loss(teacher @ rotation, teacher).item() == pytest.approx(0.0, abs=1e-5)
    # a student whose similarities are an affine function of the teacher's loses nothing either
    widened = F.normalize(torch.cat([teacher, torch.ones(12, 1)], dim=1), dim=1)
    assert TeacherDistillationLoss(7, 6)(widened, teacher).item() == pytest.approx(0.0, abs=1e-5)
    unrelated = F.normalize(torch.randn(12, 6), dim=1)
    assert loss(unrelated, teacher).item() > 0.5


def test_embedding_loss_learns_a_map_into_the_teacher_space():
    torch.manual_seed(0)
    student = F.normalize(torch.randn(32, 10), dim=1)
    teacher = F.normalize(student @ torch.randn(10, 4), dim=1)
    loss = TeacherDistillationLoss(embedding_dim=10, teacher_dim=4, mode="embedding")
    optimizer = torch.optim.Adam(loss.parameters(), lr=0.05)
    before = loss(student, teacher).item()
    for _ in range(200):
        optimizer.zero_grad()
        loss(student, teacher).backward()
        optimizer.step()
    assert loss(student, teacher).item() < 0.05 < before
    with pytest.raises(ValueError, match="distillation mode"):
        TeacherDistillationLoss(10, 4, mode="logits")


def test_dlib_teacher_tells_people_apart(lfw_people):
    names = [n for n in sorted(lfw_people) if len(lfw_people[n]) >= 2][:6]
    teacher = DlibTeacher()
    vectors = {n: [teacher.embed(p) for p in lfw_people[n][:2]] for n in names}
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
    np.testing.assert_allclose(first[0], DlibTeacher().embed(paths[0]), atol=1e-6)

    cache_file.write_bytes(b"not an npz file")
    monkeypatch.undo()
    recomputed = teacher_embeddings(paths[:2], cache_dir=tmp_path, workers=1, log=lambda _: None)
    np.testing.assert_allclose(recomputed, first[:2], atol=1e-6)


@pytest.mark.parametrize("mode", ["relation", "embedding"])
def test_training_with_distillation_runs_and_needs_the_teacher(lfw_people, mode):
    torch.manual_seed(0)
    split = split_people(lfw_people)
    train_names = [n for n in split.train if len(lfw_people[n]) >= 4][:8]
    encoder = FaceEncoder(EncoderConfig(), pretrained="none")
    preprocess_config = encoder.default_preprocess(image_size=64)
    dev_pairs = build_pairs(lfw_people, split.dev[:4])
    config = TrainConfig(batch_size=16, max_steps=3, evals_per_epoch=1, distill_weight=1.0, distill_mode=mode)
    with pytest.raises(ValueError, match="teacher"):
        train(encoder, lfw_people, train_names, dev_pairs, preprocess_config, config, progress=False)
    paths = [item.path for item in images_of(lfw_people, train_names)]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(paths), 128)).astype(np.float32)
    teacher = dict(zip(paths, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), strict=True))
    result = train(
        encoder, lfw_people, train_names, dev_pairs, preprocess_config, config, progress=False, teacher=teacher
    )
    assert result.steps == 3 and np.isfinite(result.history[-1]["loss"])
