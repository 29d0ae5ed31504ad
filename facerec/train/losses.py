"""Training losses next to the batch-hard triplet loss: a CosFace head and distillation from a face teacher."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DISTILL_MODES = ("relation", "embedding")


class CosFaceHead(nn.Module):
    """Large-margin cosine classifier over the training identities (CosFace, Wang et al. 2018).

    Training only: it pulls each identity's embeddings towards a learned centre and away from all other centres,
    which every batch sees at once, unlike the triplet loss that sees only the people of its batch.
    """

    def __init__(self, embedding_dim: int, num_classes: int, scale: float = 30.0, margin: float = 0.35):
        super().__init__()
        self.scale, self.margin = scale, margin
        self.centres = nn.Parameter(torch.randn(num_classes, embedding_dim) * 0.01)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
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
    """

    def __init__(self, embedding_dim: int, teacher_dim: int, mode: str = "relation"):
        super().__init__()
        if mode not in DISTILL_MODES:
            raise ValueError(f"distillation mode must be one of {DISTILL_MODES}, got {mode!r}")
        self.mode = mode
        self.head = nn.Linear(embedding_dim, teacher_dim, bias=False) if mode == "embedding" else None

    def forward(self, embeddings: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        if self.head is not None:
            return (1 - F.cosine_similarity(self.head(embeddings), teacher, dim=1)).mean()
        pairs = torch.triu_indices(len(embeddings), len(embeddings), offset=1, device=embeddings.device)
        student_sims = (embeddings @ embeddings.T)[pairs[0], pairs[1]]
        teacher_sims = (teacher @ teacher.T)[pairs[0], pairs[1]]
        student_sims = student_sims - student_sims.mean()
        teacher_sims = teacher_sims - teacher_sims.mean()
        correlation = (student_sims * teacher_sims).sum() / (student_sims.norm() * teacher_sims.norm() + 1e-8)
        return 1 - correlation
