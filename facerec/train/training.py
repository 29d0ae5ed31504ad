"""Fine-tuning the encoder: P x K batches, a composed objective, dev-set model selection and early stopping."""

from __future__ import annotations

import copy
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from timm.utils import ModelEmaV3
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..model.encoder import FaceEncoder
from ..model.preprocess import PreprocessConfig
from .augment import train_transform
from .config import TrainConfig
from .data import images_of
from .evaluation import DevProtocol
from .losses import BatchHardTripletLoss, CosFaceHead, Objective, TeacherCentreLoss, TeacherDistillationLoss
from .sampling import FaceDataset, PKBatchSampler


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    best_dev_auc: float = float("nan")
    best_selection_score: float = float("nan")
    steps: int = 0
    images_seen: int = 0
    train_seconds: float = 0.0
    stop_reason: str = ""
    device: str = ""  # where the loop ran ("cpu", "cuda"): the recipe may say "auto"

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.train_seconds if self.train_seconds else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"images_per_second": self.images_per_second}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_device(name: str) -> torch.device:
    """The torch device of a :class:`TrainConfig` ``device`` setting; asking for CUDA where there is none fails
    here, with the reason, rather than training for 38 minutes on the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU here ('auto' falls back to the CPU)")
    return torch.device(name)


def lr_factor(progress: float, warmup_fraction: float) -> float:
    """Linear warm-up, then cosine decay to zero, over training progress in [0, 1]."""
    if progress < warmup_fraction:
        return (progress + 1e-3) / warmup_fraction
    rest = (progress - warmup_fraction) / max(1e-8, 1 - warmup_fraction)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, rest)))


def selection_score(record: dict, select_on: str) -> float:
    """What model selection maximises: dev AUC, or dev AUC + the dev detection rate at FPIR 0.05 (when measured)."""
    if select_on == "auc+dir":
        return record["dev_auc"] + record.get("dev_dir_at_fpir_0.05", 0.0)
    return record["dev_auc"]


def identity_centres(labels: Sequence[int], teacher_vectors: torch.Tensor, n_labels: int) -> torch.Tensor:
    """The mean teacher descriptor of each label's images (rows in label order)."""
    index = torch.as_tensor(labels, dtype=torch.long)
    sums = torch.zeros(n_labels, teacher_vectors.shape[1]).index_add_(0, index, teacher_vectors.float().cpu())
    return torch.nn.functional.normalize(sums, dim=1)


def lookalikes(centres: torch.Tensor, labels: Sequence[int], pool: int) -> dict[int, list[int]]:
    """For each label among ``labels``, the ``pool`` other labels whose centres are nearest (cosine), nearest first."""
    wanted = sorted(set(labels))
    vectors = centres[wanted]
    similarity = vectors @ vectors.T
    similarity.fill_diagonal_(-2.0)
    nearest = similarity.topk(min(pool, len(wanted) - 1), dim=1).indices
    return {label: [wanted[j] for j in row.tolist()] for label, row in zip(wanted, nearest, strict=True)}


def build_objective(
    config: TrainConfig,
    embedding_dim: int,
    labels: Sequence[int],
    teacher_vectors: torch.Tensor | None,
    centre_negatives: torch.Tensor | None = None,
) -> Objective:
    """The loss terms the configuration asks for, by name; the triplet loss is always one of them.

    ``centre_negatives``: teacher descriptors the centre loss holds as negatives only (``config.centre_singles``).
    """
    n_labels = max(labels) + 1
    terms: dict[str, tuple[float, torch.nn.Module]] = {
        "triplet": (1.0, BatchHardTripletLoss(config.margin, soft=config.soft_margin))
    }
    if config.cosface_weight:
        terms["cosface"] = (
            config.cosface_weight,
            CosFaceHead(embedding_dim, n_labels, config.cosface_scale, config.cosface_margin),
        )
    if config.distill_weight:
        assert teacher_vectors is not None
        terms["distill"] = (
            config.distill_weight,
            TeacherDistillationLoss(
                embedding_dim, teacher_vectors.shape[1], config.distill_mode, memory=config.distill_memory
            ),
        )
    if config.centre_weight:
        assert teacher_vectors is not None
        centres = identity_centres(labels, teacher_vectors, n_labels)
        terms["centre"] = (
            config.centre_weight,
            TeacherCentreLoss(
                embedding_dim, centres, config.centre_scale, config.centre_margin, negatives=centre_negatives
            ),
        )
    return Objective(**terms)


def train(
    encoder: FaceEncoder,
    people: dict[str, list[str]],
    train_names: list[str],
    dev: DevProtocol,
    preprocess_config: PreprocessConfig,
    config: TrainConfig,
    on_eval: Callable[[dict], None] | None = None,
    progress: bool = True,
    teacher: Mapping[str, np.ndarray] | None = None,
    train_singles: Sequence[str] = (),
) -> TrainResult:
    """Fine-tune ``encoder`` in place; it ends holding the weights of the best dev evaluation, on the device it came
    on (the loop itself runs on ``config.device``).

    ``train_singles``: single-image people added to batches (``config.singles_per_batch`` of them per batch) and,
    with ``config.centre_singles``, held by the centre loss as negatives.
    ``teacher`` maps each training image path to the teacher's L2-normalised descriptor
    (:func:`facerec.train.teacher.teacher_descriptors`); needed when the configuration distils.
    """
    config.validate(len(train_names))
    if config.needs_teacher and teacher is None:
        raise ValueError("distill_weight or centre_weight > 0 needs the teacher's descriptors (teacher=...)")
    device = training_device(config.device)
    seed_everything(config.seed)
    home = next(encoder.parameters()).device
    encoder.to(device)
    singles = sorted(train_singles) if config.singles_per_batch else []
    items = images_of(people, sorted(train_names) + singles)
    label_of = {name: i for i, name in enumerate(sorted(train_names) + singles)}
    dataset = FaceDataset(items, train_transform(preprocess_config, config.augmentation), label_of)
    # an epoch counts the labelled people's images, so that adding singles does not stretch the schedule
    n_labelled = sum(len(people[name]) for name in train_names)
    steps_per_epoch = max(1, n_labelled // config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    # evaluations every eval_every steps (0: none before the last step)
    eval_every = max(1, steps_per_epoch // config.evals_per_epoch) if config.evals_per_epoch else 0
    max_seconds = config.max_minutes * 60 if config.max_minutes else math.inf

    teacher_vectors = None
    if config.needs_teacher:
        assert teacher is not None
        teacher_vectors = torch.as_tensor(np.stack([teacher[item.path] for item in items]), device=device)
    centre_negatives = None
    if config.centre_singles:  # validate() refused it without the centre loss
        assert teacher is not None
        # people already in batches are centres of their own; the rest are only negatives
        extra = [p for name in sorted(set(train_singles) - set(singles)) for p in people[name]]
        if extra:
            centre_negatives = torch.as_tensor(np.stack([teacher[p] for p in extra]), device=device)
    neighbours = None
    if config.lookalike_batches:
        assert teacher_vectors is not None
        centres = identity_centres(dataset.labels, teacher_vectors, len(label_of))
        labelled = [label_of[name] for name in train_names]
        neighbours = lookalikes(centres, labelled, config.lookalike_pool)
    sampler = PKBatchSampler(
        dataset.labels,
        config.people_per_batch,
        config.images_per_person,
        steps_per_epoch,
        config.seed,
        single_labels={label_of[name] for name in singles},
        singles_per_batch=config.singles_per_batch,
        neighbours=neighbours,
        lookalike_batches=config.lookalike_batches,
    )
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=config.num_workers,
        persistent_workers=config.num_workers > 0,
        pin_memory=device.type == "cuda",
    )
    objective = build_objective(
        config, encoder.config.embedding_dim, dataset.labels, teacher_vectors, centre_negatives
    ).to(device)
    # frozen before the optimizer is built, so that it holds no state for them; thawed when training ends
    frozen = encoder.freeze_stages(config.frozen_stages)
    groups = encoder.parameter_groups(config.lr, config.lr * config.backbone_lr_scale, config.weight_decay)
    for name, term in objective.terms.items():
        # class centres are each seen in few batches, so they learn faster than the encoder
        lr = config.lr * config.cosface_lr_scale if name == "cosface" else config.lr
        groups.append({"params": [p for p in term.parameters() if p.requires_grad], "lr": lr, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW([group for group in groups if group["params"]])
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    ema = ModelEmaV3(encoder, decay=config.ema_decay, use_warmup=True) if config.ema_decay else None
    # the weights that are evaluated, selected and returned
    evaluated = ema.module if ema is not None else encoder

    result = TrainResult(device=device.type)
    best_state: dict[str, torch.Tensor] | None = None
    evals_without_improvement = 0
    running: list[tuple[float, dict[str, float]]] = []
    started = time.monotonic()
    eval_seconds = last_eval_seconds = 0.0
    bar = tqdm(total=total_steps, desc="train", unit="step", disable=not progress, file=sys.stderr, mininterval=2)

    def evaluate(step: int, epoch: float) -> bool:
        """Record a dev evaluation; True when training should stop for lack of progress."""
        nonlocal best_state, evals_without_improvement, eval_seconds, last_eval_seconds
        t0 = time.monotonic()
        losses = {
            f"loss_{name}": float(np.mean([parts[name] for _, parts in running])) if running else float("nan")
            for name in objective.terms
        }
        record = {
            "step": step,
            "epoch": round(epoch, 3),
            "loss": float(np.mean([total for total, _ in running])) if running else float("nan"),
            **losses,
            "lr": optimizer.param_groups[0]["lr"],
            # the main test input alone, without flip averaging: a fraction of the cost, and selection only needs the
            # ranking of checkpoints
            **dev.measure(evaluated, preprocess_config.single_input(), flip_tta=False),
        }
        record["selection_score"] = selection_score(record, config.select_on)
        last_eval_seconds = time.monotonic() - t0
        eval_seconds += last_eval_seconds
        record["elapsed_s"] = round(time.monotonic() - started, 1)
        running.clear()
        result.history.append(record)
        if not record["selection_score"] <= result.best_selection_score:  # also true for the first (nan) comparison
            result.best_selection_score, result.best_dev_auc = record["selection_score"], record["dev_auc"]
            result.best_step = step
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
            targets = teacher_vectors[indices.to(device)] if teacher_vectors is not None else None
            loss, parts = objective(encoder(images), labels, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.parameters(), config.grad_clip_norm)
            optimizer.step()
            step += 1
            if ema is not None:
                ema.update(encoder, step)
            result.images_seen += len(labels)
            running.append((loss.item(), parts))
            bar.update(1)
            out_of_time = time.monotonic() - started >= max_seconds
            last = step >= total_steps or out_of_time
            evaluated_now = last or bool(eval_every and step % eval_every == 0)
            if evaluated_now and evaluate(step, step / steps_per_epoch):
                result.stop_reason = f"early stop: no better dev selection score in {config.patience} evaluations"
            # an evaluation that leaves less of the budget than it took ends training there: what is left would buy
            # a few steps and then one more evaluation, past the budget (steps 531 and 532 of a demo run)
            elif out_of_time or (evaluated_now and time.monotonic() - started + last_eval_seconds >= max_seconds):
                result.stop_reason = f"time budget of {config.max_minutes} min reached"
            elif step >= total_steps:
                result.stop_reason = f"finished {step} steps"
            if result.stop_reason:
                break
            encoder.train()
        epoch += 1
    bar.close()
    for param in frozen:
        param.requires_grad_(True)
    result.steps = step
    result.train_seconds = time.monotonic() - started - eval_seconds
    if best_state is not None:
        encoder.load_state_dict(best_state)
    encoder.to(home)
    encoder.eval()
    return result
