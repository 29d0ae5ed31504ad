"""Batch-hard triplet fine-tuning of the encoder, with dev-set model selection and early stopping."""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from supertriplets.distance import CosineDistance
from supertriplets.loss import BatchHardSoftMarginTripletLoss, BatchHardTripletLoss
from timm.utils import ModelEmaV3
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..model.encoder import FaceEncoder
from ..model.preprocess import PreprocessConfig
from .augment import AUGMENTATION_LEVELS, train_transform
from .data import images_of
from .evaluation import PairSet, evaluate_verification
from .losses import DISTILL_MODES, CosFaceHead, TeacherDistillationLoss
from .metrics import best_threshold
from .sampling import FaceDataset, PKBatchSampler


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    images_per_person: int = 4
    lr: float = 1e-3
    # the pretrained backbone moves at lr * backbone_lr_scale; the new projection head at lr
    backbone_lr_scale: float = 0.5
    weight_decay: float = 1e-2
    # cosine-distance margin: embeddings are L2-normalised, so distances lie in [0, 2]
    margin: float = 0.25
    soft_margin: bool = False
    # weight of an auxiliary CosFace loss over the training identities (0 = triplet loss only)
    cosface_weight: float = 0.0
    cosface_margin: float = 0.35
    cosface_scale: float = 30.0
    # the class centres are each seen in few batches, so they learn at lr x this
    cosface_lr_scale: float = 10.0
    # weight of distillation from a face teacher (0 = off); needs the teacher's descriptors of the training images
    distill_weight: float = 0.0
    distill_mode: str = "relation"
    warmup_fraction: float = 0.05
    # exponential moving average of the weights, evaluated and kept instead of the raw weights (0 = off); timm's
    # warm-up shortens the average early on, so the horizon grows with training (~150 steps after 1,800)
    ema_decay: float = 0.0
    grad_clip_norm: float = 5.0
    evals_per_epoch: int = 3
    # evaluations without a new best dev AUC before stopping
    patience: int = 3
    # wall-clock budget of the training loop, dev evaluations included (0 = none); the learning-rate schedule
    # follows whichever of steps or time runs out first
    max_minutes: float = 0.0
    max_steps: int = 0
    augmentation: str = "high"
    seed: int = 42
    num_workers: int = 0

    @property
    def people_per_batch(self) -> int:
        return self.batch_size // self.images_per_person

    def validate(self, n_train_people: int | None = None) -> None:
        """Fail fast, with the reason, on settings that cannot train."""
        problems = []
        if self.images_per_person < 2:
            problems.append(
                f"images_per_person must be >= 2 (positives need a second image), got {self.images_per_person}"
            )
        elif self.batch_size % self.images_per_person:
            problems.append(
                f"batch_size {self.batch_size} is not a multiple of images_per_person {self.images_per_person} "
                "(P x K batches)"
            )
        elif self.people_per_batch < 2:
            problems.append(
                f"batch_size {self.batch_size} holds {self.people_per_batch} person with images_per_person "
                f"{self.images_per_person}; P x K batches need at least 2 people "
                f"(batch_size >= {2 * self.images_per_person})"
            )
        if n_train_people is not None and self.people_per_batch > n_train_people:
            problems.append(f"a batch needs {self.people_per_batch} people but the train split has {n_train_people}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.lr <= 0 or self.backbone_lr_scale < 0 or self.weight_decay < 0:
            problems.append("lr must be > 0, backbone_lr_scale and weight_decay >= 0")
        if self.margin <= 0 and not self.soft_margin:
            problems.append(f"margin must be > 0, got {self.margin}")
        if self.cosface_weight < 0 or not 0 <= self.cosface_margin < 1 or self.cosface_scale <= 0:
            problems.append("cosface_weight must be >= 0, cosface_margin in [0, 1), cosface_scale > 0")
        if self.distill_weight < 0 or self.distill_mode not in DISTILL_MODES:
            problems.append(f"distill_weight must be >= 0 and distill_mode one of {DISTILL_MODES}")
        if not 0 <= self.ema_decay < 1:
            problems.append(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if not 0 <= self.warmup_fraction < 1:
            problems.append(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction}")
        if self.evals_per_epoch < 1 or self.patience < 1:
            problems.append("evals_per_epoch and patience must be >= 1")
        if self.max_minutes < 0 or self.max_steps < 0:
            problems.append("max_minutes and max_steps must be >= 0 (0 = no limit)")
        if self.augmentation not in AUGMENTATION_LEVELS:
            problems.append(f"augmentation must be one of {AUGMENTATION_LEVELS}, got {self.augmentation!r}")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    best_dev_auc: float = float("nan")
    steps: int = 0
    images_seen: int = 0
    train_seconds: float = 0.0
    stop_reason: str = ""

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.train_seconds if self.train_seconds else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"images_per_second": self.images_per_second}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_factor(progress: float, warmup_fraction: float) -> float:
    """Linear warm-up, then cosine decay to zero, over training progress in [0, 1]."""
    if progress < warmup_fraction:
        return (progress + 1e-3) / warmup_fraction
    rest = (progress - warmup_fraction) / max(1e-8, 1 - warmup_fraction)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, rest)))


def dev_metrics(encoder: FaceEncoder, preprocess_config: PreprocessConfig, dev_pairs: PairSet) -> dict[str, float]:
    # without flip averaging: half the cost, and model selection only needs the ranking of checkpoints
    similarities = evaluate_verification(encoder, preprocess_config, dev_pairs, flip_tta=False)
    return {
        "dev_auc": float(roc_auc_score(dev_pairs.labels, similarities)),
        "dev_accuracy": best_threshold(similarities, dev_pairs.labels)[1],
    }


def make_loss(config: TrainConfig) -> torch.nn.Module:
    distance = CosineDistance(alredy_l2_normalized_vectors=True)
    if config.soft_margin:
        return BatchHardSoftMarginTripletLoss(distance=distance)
    return BatchHardTripletLoss(distance=distance, margin=config.margin)


def train(
    encoder: FaceEncoder,
    people: dict[str, list[str]],
    train_names: list[str],
    dev_pairs: PairSet,
    preprocess_config: PreprocessConfig,
    config: TrainConfig,
    on_eval: Callable[[dict], None] | None = None,
    progress: bool = True,
    teacher: Mapping[str, np.ndarray] | None = None,
) -> TrainResult:
    """Fine-tune ``encoder`` in place; it ends holding the weights of the best dev evaluation.

    ``teacher`` maps each training image path to the teacher's L2-normalised descriptor
    (:func:`facerec.train.teacher.teacher_descriptors`); needed when ``config.distill_weight`` > 0.
    """
    config.validate(len(train_names))
    if config.distill_weight and teacher is None:
        raise ValueError("distill_weight > 0 needs the teacher's descriptors (teacher=...)")
    seed_everything(config.seed)
    items = images_of(people, train_names)
    label_of = {name: i for i, name in enumerate(sorted(train_names))}
    dataset = FaceDataset(items, train_transform(preprocess_config, config.augmentation), label_of)
    steps_per_epoch = max(1, len(items) // config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    eval_every = max(1, steps_per_epoch // config.evals_per_epoch)
    max_seconds = config.max_minutes * 60 if config.max_minutes else math.inf
    device = next(encoder.parameters()).device

    sampler = PKBatchSampler(
        dataset.labels, config.people_per_batch, config.images_per_person, steps_per_epoch, config.seed
    )
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=config.num_workers,
        persistent_workers=config.num_workers > 0,
        pin_memory=device.type == "cuda",
    )
    groups = encoder.parameter_groups(config.lr, config.lr * config.backbone_lr_scale, config.weight_decay)
    cosface: CosFaceHead | None = None
    if config.cosface_weight:
        cosface = CosFaceHead(encoder.config.embedding_dim, len(label_of), config.cosface_scale, config.cosface_margin)
        cosface.to(device)
        centres_lr = config.lr * config.cosface_lr_scale
        groups.append({"params": list(cosface.parameters()), "lr": centres_lr, "weight_decay": 0.0})
    distill: TeacherDistillationLoss | None = None
    teacher_vectors: torch.Tensor | None = None
    if config.distill_weight:
        assert teacher is not None
        teacher_vectors = torch.as_tensor(np.stack([teacher[item.path] for item in items]), device=device)
        distill = TeacherDistillationLoss(encoder.config.embedding_dim, teacher_vectors.shape[1], config.distill_mode)
        distill.to(device)
        groups.append({"params": list(distill.parameters()), "lr": config.lr, "weight_decay": 0.0})
    groups = [group for group in groups if group["params"]]
    optimizer = torch.optim.AdamW(groups)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    triplet_loss = make_loss(config)
    ema = ModelEmaV3(encoder, decay=config.ema_decay, use_warmup=True) if config.ema_decay else None
    # the weights that are evaluated, selected and returned
    evaluated = ema.module if ema is not None else encoder

    def loss_fn(embeddings: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        loss = triplet_loss(embeddings, labels)
        if cosface is not None:
            loss = loss + config.cosface_weight * cosface(embeddings, labels)
        if distill is not None:
            assert teacher_vectors is not None
            loss = loss + config.distill_weight * distill(embeddings, teacher_vectors[indices])
        return loss

    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    evals_without_improvement = 0
    running_loss: list[float] = []
    started = time.monotonic()
    eval_seconds = 0.0
    bar = tqdm(total=total_steps, desc="train", unit="step", disable=not progress, file=sys.stderr, mininterval=2)

    def evaluate(step: int, epoch: float) -> bool:
        """Record a dev evaluation; True when training should stop for lack of progress."""
        nonlocal best_state, evals_without_improvement, eval_seconds
        t0 = time.monotonic()
        record = {
            "step": step,
            "epoch": round(epoch, 3),
            "loss": float(np.mean(running_loss)) if running_loss else float("nan"),
            "lr": optimizer.param_groups[0]["lr"],
            **dev_metrics(evaluated, preprocess_config, dev_pairs),
        }
        eval_seconds += time.monotonic() - t0
        record["elapsed_s"] = round(time.monotonic() - started, 1)
        running_loss.clear()
        result.history.append(record)
        if not record["dev_auc"] <= result.best_dev_auc:  # also true for the first (nan) comparison
            result.best_dev_auc, result.best_step = record["dev_auc"], step
            best_state = copy.deepcopy(evaluated.state_dict())
            evals_without_improvement = 0
        else:
            evals_without_improvement += 1
        bar.set_postfix(loss=f"{record['loss']:.4f}", dev_auc=f"{record['dev_auc']:.4f}")
        if on_eval is not None:
            on_eval(record)
        return evals_without_improvement >= config.patience

    step, epoch = 0, 0
    encoder.train()
    while not result.stop_reason:
        sampler.set_epoch(epoch)
        for images, labels, indices in loader:
            elapsed = time.monotonic() - started
            factor = lr_factor(max(step / total_steps, elapsed / max_seconds), config.warmup_fraction)
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * factor
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss = loss_fn(encoder(images), labels, indices.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.parameters(), config.grad_clip_norm)
            optimizer.step()
            step += 1
            if ema is not None:
                ema.update(encoder, step)
            result.images_seen += len(labels)
            running_loss.append(loss.item())
            bar.update(1)
            out_of_time = time.monotonic() - started >= max_seconds
            last = step >= total_steps or out_of_time
            if (step % eval_every == 0 or last) and evaluate(step, step / steps_per_epoch):
                result.stop_reason = f"early stop: no better dev AUC in {config.patience} evaluations"
            elif out_of_time:
                result.stop_reason = f"time budget of {config.max_minutes} min reached"
            elif step >= total_steps:
                result.stop_reason = f"finished {step} steps"
            if result.stop_reason:
                break
            encoder.train()
        epoch += 1
    bar.close()
    result.steps = step
    result.train_seconds = time.monotonic() - started - eval_seconds
    if best_state is not None:
        encoder.load_state_dict(best_state)
    encoder.eval()
    return result
