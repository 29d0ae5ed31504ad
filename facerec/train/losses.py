"""Training losses, composed into one objective (:class:`Objective`) by keyword.

Every term takes the batch's embeddings, labels and the teacher's descriptors of the batch's images (``None`` when no
teacher is used) and returns a scalar, so terms combine freely: ``Objective(triplet=(1.0, BatchHardTripletLoss()),
relation=(1.0, TeacherDistillationLoss(300, 128)))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DISTILL_MODES = ("relation", "embedding")


class BatchHardTripletLoss(nn.Module):
    """Batch-hard triplet loss on cosine distance (Hermans et al. 2017).

    Every image with a positive in the batch is an anchor: its farthest positive must be closer than its nearest
    negative by ``margin`` (``soft``: log(1 + exp(d_pos - d_neg)) instead of the hinge). Images without a positive
    (people with a single photo) are negatives for everyone else and anchors of nothing.
    """

    def __init__(self, margin: float = 0.25, soft: bool = False):
        super().__init__()
        self.margin, self.soft = margin, soft

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None):
        distances = 1 - embeddings @ embeddings.T
        same = labels[:, None] == labels[None, :]
        positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        anchors = positive.any(dim=1)
        hardest_positive = torch.where(positive, distances, torch.zeros_like(distances)).amax(dim=1)
        hardest_negative = torch.where(same, torch.full_like(distances, 4.0), distances).amin(dim=1)
        gap = hardest_positive - hardest_negative
        losses = F.softplus(gap) if self.soft else F.relu(gap + self.margin)
        return losses[anchors].mean()


class CosFaceHead(nn.Module):
    """Large-margin cosine classifier over the training identities (CosFace, Wang et al. 2018).

    Training only: it pulls each identity's embeddings towards a learned centre and away from all other centres,
    which every batch sees at once, unlike the triplet loss that sees only the people of its batch.
    """

    def __init__(self, embedding_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.35):
        super().__init__()
        self.scale, self.margin = scale, margin
        self.centres = nn.Parameter(torch.randn(num_classes, embedding_dim) * 0.01)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None):
        cosine = F.linear(embeddings, F.normalize(self.centres, dim=1))
        penalty = self.margin * F.one_hot(labels, cosine.shape[1]).to(cosine.dtype)
        return F.cross_entropy(self.scale * (cosine - penalty), labels)


class TeacherDistillationLoss(nn.Module):
    """Teach the student what a stronger face model knows about faces the triplet loss alone cannot tell apart.

    ``mode="relation"`` (relational distillation, Park et al. 2019): one minus the Pearson correlation between the
    student's and the teacher's cosine similarities over all pairs of the batch. Free of scale and offset, so it
    transfers which pairs look alike (graded, also among different people) and leaves the margin to the triplet loss.

    ``mode="embedding"``: a linear map from the student's embedding to the teacher's space, trained with it, and one
    minus their cosine per image; the student must encode everything the teacher's descriptor holds.

    ``memory`` (relation mode): also relate each batch image to the last ``memory`` images of earlier batches (their
    student embeddings, detached, and teacher descriptors, in a FIFO; the cross-batch memory of Wang et al. 2020).
    A batch of 8 people holds 28 pairs of different people; the memory adds thousands, from many more people.
    """

    def __init__(self, embedding_dim: int, teacher_dim: int, mode: str = "relation", memory: int = 0):
        super().__init__()
        if mode not in DISTILL_MODES:
            raise ValueError(f"distillation mode must be one of {DISTILL_MODES}, got {mode!r}")
        if memory and mode != "relation":
            raise ValueError("a distillation memory needs mode='relation'")
        self.mode = mode
        self.head = nn.Linear(embedding_dim, teacher_dim, bias=False) if mode == "embedding" else None
        self.memory = memory
        # not saved with the model: the memory is training state, rebuilt within a few batches
        self.register_buffer("memory_student", torch.zeros(memory, embedding_dim), persistent=False)
        self.register_buffer("memory_teacher", torch.zeros(memory, teacher_dim), persistent=False)
        self.filled, self.cursor = 0, 0

    needs_teacher = True

    def remember(self, embeddings: torch.Tensor, teacher: torch.Tensor) -> None:
        """Push a batch into the FIFO memory (detached), overwriting the oldest entries."""
        rows = (self.cursor + torch.arange(len(embeddings), device=embeddings.device)) % self.memory
        self.memory_student[rows] = embeddings.detach().to(self.memory_student.dtype)
        self.memory_teacher[rows] = teacher.detach().to(self.memory_teacher.dtype)
        self.cursor = (self.cursor + len(embeddings)) % self.memory
        self.filled = min(self.memory, self.filled + len(embeddings))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        if self.head is not None:
            return (1 - F.cosine_similarity(self.head(embeddings), teacher, dim=1)).mean()
        pairs = torch.triu_indices(len(embeddings), len(embeddings), offset=1, device=embeddings.device)
        student_sims = (embeddings @ embeddings.T)[pairs[0], pairs[1]]
        teacher_sims = (teacher @ teacher.T)[pairs[0], pairs[1]]
        if self.memory:
            if self.filled:
                # copies: the backward pass needs the memory as it was, and remember() overwrites it below
                remembered_student = self.memory_student[: self.filled].clone()
                remembered_teacher = self.memory_teacher[: self.filled].clone()
                student_sims = torch.cat([student_sims, (embeddings @ remembered_student.T).flatten()])
                teacher_sims = torch.cat([teacher_sims, (teacher @ remembered_teacher.T).flatten()])
            if self.training:
                self.remember(embeddings, teacher)
        student_sims = student_sims - student_sims.mean()
        teacher_sims = teacher_sims - teacher_sims.mean()
        correlation = (student_sims * teacher_sims).sum() / (student_sims.norm() * teacher_sims.norm() + 1e-8)
        return 1 - correlation


class TeacherCentreLoss(nn.Module):
    """A margin softmax whose class centres are the teacher's identity centres, frozen (ProxylessKD, Shi et al. 2020;
    MarginDistillation, Svitov & Alyamkin 2020).

    ``centres`` holds the mean teacher descriptor of every training identity (single-image people in batches
    included). A learned linear head maps the student's embedding into the teacher's space, where the CosFace margin
    softmax asks it to sit at its identity's centre, away from every other centre: the student learns where
    identities lie in the teacher's space rather than the teacher's per-image noise, and each step sees every identity
    as a negative. ``negatives``: more centres that are never a label (the teacher's descriptors of people without a
    second photo), so the softmax also pushes every identity away from them.
    """

    def __init__(
        self,
        embedding_dim: int,
        centres: torch.Tensor,
        scale: float = 30.0,
        margin: float = 0.2,
        negatives: torch.Tensor | None = None,
    ):
        super().__init__()
        self.scale, self.margin = scale, margin
        self.head = nn.Linear(embedding_dim, centres.shape[1], bias=False)
        rows = centres if negatives is None else torch.cat([centres, negatives.to(centres)])
        self.register_buffer("centres", F.normalize(rows.float(), dim=1))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None):
        cosine = F.normalize(self.head(embeddings), dim=1) @ self.centres.T
        penalty = self.margin * F.one_hot(labels, cosine.shape[1]).to(cosine.dtype)
        return F.cross_entropy(self.scale * (cosine - penalty), labels)


class Objective(nn.Module):
    """A weighted sum of loss terms, given by keyword: ``Objective(triplet=(1.0, BatchHardTripletLoss()), ...)``."""

    def __init__(self, **terms: tuple[float, nn.Module]):
        super().__init__()
        self.weights = {name: float(weight) for name, (weight, _) in terms.items()}
        self.terms = nn.ModuleDict({name: term for name, (_, term) in terms.items()})

    @property
    def needs_teacher(self) -> bool:
        return any(getattr(term, "needs_teacher", False) for term in self.terms.values())

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The total loss, and each term's (unweighted) value for the record."""
        parts = {name: term(embeddings, labels, teacher) for name, term in self.terms.items()}
        total = sum(self.weights[name] * value for name, value in parts.items())
        return total, {name: float(value.detach()) for name, value in parts.items()}
