"""Losses on small synthetic tensors."""

import pytest
import torch
import torch.nn.functional as F

from facerec.train.losses import BatchHardTripletLoss, CosFaceHead, TeacherCentreLoss, TeacherDistillationLoss


def test_relation_loss_is_zero_for_the_teachers_geometry_up_to_scale_and_offset():
    torch.manual_seed(0)
    teacher = F.normalize(torch.randn(12, 6), dim=1)
    loss = TeacherDistillationLoss(embedding_dim=6, teacher_dim=6, mode="relation")
    # an orthogonal rotation keeps every cosine: the student holds the teacher's geometry exactly
    rotation, _ = torch.linalg.qr(torch.randn(6, 6))
    assert loss(teacher @ rotation, None, teacher).item() == pytest.approx(0.0, abs=1e-5)
    # a student whose similarities are an affine function of the teacher's loses nothing either
    widened = F.normalize(torch.cat([teacher, torch.ones(12, 1)], dim=1), dim=1)
    assert TeacherDistillationLoss(7, 6)(widened, None, teacher).item() == pytest.approx(0.0, abs=1e-5)
    unrelated = F.normalize(torch.randn(12, 6), dim=1)
    assert loss(unrelated, None, teacher).item() > 0.5


def test_embedding_loss_learns_a_map_into_the_teacher_space():
    torch.manual_seed(0)
    student = F.normalize(torch.randn(32, 10), dim=1)
    teacher = F.normalize(student @ torch.randn(10, 4), dim=1)
    loss = TeacherDistillationLoss(embedding_dim=10, teacher_dim=4, mode="embedding")
    optimizer = torch.optim.Adam(loss.parameters(), lr=0.05)
    before = loss(student, None, teacher).item()
    for _ in range(200):
        optimizer.zero_grad()
        loss(student, None, teacher).backward()
        optimizer.step()
    assert loss(student, None, teacher).item() < 0.05 < before
    with pytest.raises(ValueError, match="distillation mode"):
        TeacherDistillationLoss(10, 4, mode="logits")


def test_relation_memory_relates_the_batch_to_earlier_batches():
    torch.manual_seed(0)
    teacher = F.normalize(torch.randn(40, 6), dim=1)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6))
    loss = TeacherDistillationLoss(6, 6, memory=16)
    # a student with the teacher's geometry loses nothing, against the memory too
    for start in range(0, 40, 8):
        batch = slice(start, start + 8)
        assert loss(teacher[batch] @ rotation, None, teacher[batch]).item() == pytest.approx(0.0, abs=1e-5)
    assert loss.filled == 16 and loss.cursor == 40 % 16
    # training through it: the gradient flows into the batch, not into the remembered images
    student = (teacher[:8] + 0.1 * torch.randn(8, 6)).requires_grad_()
    loss(F.normalize(student, dim=1), None, teacher[:8]).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    loss(teacher[32:40] @ rotation, None, teacher[32:40])  # two known batches, for the check below
    loss(teacher[24:32] @ rotation, None, teacher[24:32])
    # the memory holds the last 16 images pushed, oldest first, detached
    remembered = torch.cat([teacher[32:40], teacher[24:32]]) @ rotation
    assert loss.cursor == 0  # 64 images pushed into 16 rows
    assert torch.allclose(loss.memory_student, remembered, atol=1e-6)
    assert not loss.memory_student.requires_grad
    # a batch that agrees with the teacher within itself but not with the remembered images is penalised, and the
    # penalty reaches it through the batch-to-memory similarities (a memory-free loss sees nothing wrong)
    other_rotation, _ = torch.linalg.qr(torch.randn(6, 6))
    turned = teacher[:8] @ other_rotation  # the teacher's geometry within the batch, another frame than the memory's
    without_memory = TeacherDistillationLoss(6, 6)
    loss.eval()  # measuring only: do not push these into the memory
    assert without_memory(turned, None, teacher[:8]).item() == pytest.approx(0.0, abs=1e-5)
    assert loss(turned, None, teacher[:8]).item() > 0.05
    assert loss.filled == 16 and loss.cursor == 0  # nothing pushed in eval mode
    with pytest.raises(ValueError, match="memory"):
        TeacherDistillationLoss(6, 6, mode="embedding", memory=8)


def test_cosface_head_penalises_the_true_class_by_its_margin_and_learns_centres():
    torch.manual_seed(0)
    head = CosFaceHead(embedding_dim=8, num_classes=4, scale=10.0, margin=0.35)
    labels = torch.tensor([0, 1, 2, 3])
    at_centres = torch.nn.functional.normalize(head.centres.detach(), dim=1)
    without_margin = CosFaceHead(8, 4, scale=10.0, margin=0.0)
    without_margin.centres = head.centres
    assert head(at_centres, labels) > without_margin(at_centres, labels)
    # embeddings far from their centres: a few steps on the centres alone bring the loss down
    embeddings = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    optimizer = torch.optim.SGD(head.parameters(), lr=1.0)
    before = head(embeddings, labels).item()
    for _ in range(20):
        optimizer.zero_grad()
        head(embeddings, labels).backward()
        optimizer.step()
    assert head(embeddings, labels).item() < 0.5 * before


def test_batch_hard_triplet_loss_by_hand_and_singles_are_negatives_only():
    # three unit vectors at known angles: a and p are one person, n another, s a single-image person
    a, p, n = torch.tensor([1.0, 0.0]), torch.tensor([0.6, 0.8]), torch.tensor([0.8, 0.6])
    embeddings, labels = torch.stack([a, p, n]), torch.tensor([0, 0, 1])
    # anchor a: d(a, p) = 0.4, nearest negative d(a, n) = 0.2 -> relu(0.4 - 0.2 + 0.25) = 0.45
    # anchor p: d(p, a) = 0.4, d(p, n) = 1 - 0.96 = 0.04 -> 0.61; n has no positive: not an anchor
    loss = BatchHardTripletLoss(margin=0.25)
    assert loss(embeddings, labels).item() == pytest.approx((0.45 + 0.61) / 2, abs=1e-6)
    soft = BatchHardTripletLoss(soft=True)(embeddings, labels).item()
    assert soft == pytest.approx((F.softplus(torch.tensor(0.2)) + F.softplus(torch.tensor(0.36))).item() / 2, abs=1e-6)
    # a single-image person right on top of a becomes a's hardest negative
    with_single = loss(torch.stack([a, p, n, a]), torch.tensor([0, 0, 1, 2])).item()
    assert with_single == pytest.approx((0.65 + 0.61) / 2, abs=1e-6)


def test_teacher_centre_loss_negatives_are_never_a_target_but_push_embeddings_away():
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(4, 6), dim=1)
    loss = TeacherCentreLoss(embedding_dim=6, centres=centres, margin=0.2)
    with torch.no_grad():
        loss.head.weight.copy_(torch.eye(6))  # the student's space is the teacher's
    labels = torch.tensor([0, 1, 2, 3])
    # a negative far from every embedding changes little; one on top of an embedding raises that embedding's loss
    far = -centres.sum(0, keepdim=True)
    close = centres[:1] + 0.01 * torch.randn(1, 6)
    with_far = TeacherCentreLoss(6, centres, margin=0.2, negatives=far)
    with_close = TeacherCentreLoss(6, centres, margin=0.2, negatives=close)
    for other in (with_far, with_close):
        other.head.load_state_dict(loss.head.state_dict())
    assert with_far.centres.shape == (5, 6) and with_close.centres.shape == (5, 6)
    with torch.no_grad():
        base, far_loss, close_loss = (float(term(centres, labels)) for term in (loss, with_far, with_close))
    assert far_loss == pytest.approx(base, abs=0.05)
    assert close_loss > base + 0.5
    # the identities keep their rows, first: labels index them, never a negative
    assert torch.allclose(with_close.centres[:4], loss.centres)
