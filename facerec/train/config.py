"""The training configuration: one object, built once (by the flow from its parameters) and carried everywhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..model.encoder import EncoderConfig
from ..model.preprocess import PreprocessConfig
from .augment import AUGMENTATION_LEVELS
from .losses import DISTILL_MODES

# what model selection maximises: dev ROC AUC, or dev AUC + the dev detection rate at FPIR 0.05 (open-set: the share
# of dev people's photos named correctly when 5% of dev strangers are named)
SELECTION_METRICS = ("auc", "auc+dir")
# where the training loop runs: "auto" takes a CUDA GPU when torch sees one (a `--with kubernetes` / `--with batch`
# step on a GPU node), else the CPU. Later steps (evaluation, calibration, the bundle) run on the CPU either way, so
# the published figures are always the served ONNX graph's
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """How the encoder is trained. The defaults are the default recipe (`make train`); the flow's parameters take
    their defaults from here, so there is one place to change one."""

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
    # weight of distillation from a face teacher (0 = off); needs the teacher's descriptors of the training images.
    # Measured on dev people (docs/experiments.md): relational distillation at weight 1 beat the triplet loss alone
    distill_weight: float = 1.0
    distill_mode: str = "relation"
    # relational distillation also against this many images of earlier batches (a FIFO of detached student
    # embeddings and their teacher descriptors; 0 = the batch only)
    distill_memory: int = 0
    # train-part single-image people added to every batch: negatives for the triplet loss (never anchors), more
    # images for distillation, more identities for the teacher-centre classifier
    singles_per_batch: int = 0
    # weight of the margin softmax against the teacher's frozen identity centres (0 = off; needs the teacher).
    # Measured on dev people at a fixed step budget (docs/experiments.md): weight 1 beat the previous recipe on dev
    # AUC, rank-1 and detection rate; weight 2 and train-part singles in every batch did not add to it
    centre_weight: float = 1.0
    centre_margin: float = 0.2
    centre_scale: float = 30.0
    # the teacher's descriptors of the train-part single-image people join the centre loss as negatives only (never a
    # batch's label): every step sees ~3,400 identities instead of ~1,000, at no cost in images (needs centre_weight).
    # One full run (docs/experiments.md, full-runs): dev and known-vs-unknown AUC inside the default's seeds, so off
    centre_singles: bool = False
    # share of batches whose people are look-alikes: a random person and people_per_batch - 1 drawn from the
    # lookalike_pool people nearest to them in the teacher's space (identity centres); needs the teacher
    lookalike_batches: float = 0.0
    lookalike_pool: int = 24
    # the backbone's stem (0) and its first N blocks (N) keep their ImageNet weights; -1 = nothing frozen (as
    # mmdetection's frozen_stages). On 2 CPU cores, with the stem and 2 blocks frozen, the demo's 5 minutes hold
    # ~1.5x the steps (docs/experiments.md); the full recipe keeps the whole backbone trainable
    frozen_stages: int = -1
    warmup_fraction: float = 0.05
    # exponential moving average of the weights, evaluated and kept instead of the raw weights (0 = off); timm's
    # warm-up shortens the average early on, so the horizon grows with training (~150 steps after 1,800). Measured in
    # whole runs (docs/experiments.md, full-runs): the dev series turns smooth and each of 3 seeds' late dev AUC lies
    # 0.004-0.005 above the same seed's without it
    ema_decay: float = 0.999
    grad_clip_norm: float = 5.0
    # dev evaluations per epoch; 0 = one, when training ends (a short run whose learning rate anneals to zero keeps
    # its last step anyway, and every evaluation inside a time budget is time not spent training)
    evals_per_epoch: int = 2
    select_on: str = "auc+dir"
    # dev galleries each evaluation averages rank-1 and the detection rate over (1 = each person's first photo only);
    # one draw's detection rate moves ~2 points (sd) with the photo enrolled (bench/selection_noise.py)
    dev_gallery_draws: int = 1
    # evaluations without a better selection score before stopping
    patience: int = 3
    # wall-clock budget of the training loop, dev evaluations included (0 = none); the learning-rate schedule
    # follows whichever of steps or time runs out first. 38 min leaves the flow's other steps ~7 of 45 minutes
    max_minutes: float = 38.0
    max_steps: int = 0
    augmentation: str = "high"
    seed: int = 42
    # data-loading worker processes: 0 decodes and augments in the training process (on 2 CPU cores the model's own
    # threads want both cores: 2 workers cost a fifth of the speed); a GPU outruns one process decoding images, so
    # give it several there (8: ~5x the images/s of none on an H200; bench/train_device_benchmark.py)
    num_workers: int = 0
    device: str = "auto"

    @property
    def people_per_batch(self) -> int:
        return self.batch_size // self.images_per_person

    @property
    def uses_singles(self) -> bool:
        """Whether training reads the train-part single-image people (in batches, or as centre-loss negatives)."""
        return bool(self.singles_per_batch or (self.centre_singles and self.centre_weight))

    @property
    def needs_teacher(self) -> bool:
        return bool(self.distill_weight or self.centre_weight or self.lookalike_batches)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return cls(**data)

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
        if self.singles_per_batch < 0 or self.centre_weight < 0 or not 0 <= self.centre_margin < 1:
            problems.append("singles_per_batch and centre_weight must be >= 0, centre_margin in [0, 1)")
        if self.centre_singles and not self.centre_weight:
            problems.append("centre_singles adds negatives to the centre loss: it needs centre_weight > 0")
        if self.distill_memory < 0 or (self.distill_memory and self.distill_mode != "relation"):
            problems.append("distill_memory must be >= 0, and needs distill_mode 'relation'")
        if not 0 <= self.lookalike_batches <= 1 or self.lookalike_pool < self.people_per_batch - 1:
            problems.append(
                "lookalike_batches must lie in [0, 1] and lookalike_pool hold at least people_per_batch - 1 people"
            )
        if self.frozen_stages < -1:
            problems.append(f"frozen_stages must be >= -1 (-1 = nothing frozen), got {self.frozen_stages}")
        if not 0 <= self.ema_decay < 1:
            problems.append(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if not 0 <= self.warmup_fraction < 1:
            problems.append(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction}")
        if self.select_on not in SELECTION_METRICS:
            problems.append(f"select_on must be one of {SELECTION_METRICS}, got {self.select_on!r}")
        if self.evals_per_epoch < 0:
            problems.append(f"evals_per_epoch must be >= 0 (0 = once, when training ends), got {self.evals_per_epoch}")
        if self.patience < 1 or self.dev_gallery_draws < 1:
            problems.append("patience and dev_gallery_draws must be >= 1")
        if self.max_minutes < 0 or self.max_steps < 0:
            problems.append("max_minutes and max_steps must be >= 0 (0 = no limit)")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.num_workers < 0:
            problems.append(f"num_workers must be >= 0, got {self.num_workers}")
        if self.augmentation not in AUGMENTATION_LEVELS:
            problems.append(f"augmentation must be one of {AUGMENTATION_LEVELS}, got {self.augmentation!r}")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))


@dataclass(frozen=True)
class Recipe:
    """Everything a training run is made of: the split, the encoder, its input and the training configuration.

    The flow builds it once from its parameters in ``start``; every later step, the bundle and serving read this one
    object (the bundle keeps the encoder and preprocessing configs, and the whole recipe for the record).
    """

    dataset: str
    train: TrainConfig = field(default_factory=TrainConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    max_people: int = 0
    pretrained: str = "imagenet"
    # the protocol's seed: the split, the pairs, the galleries and the cohort. Training seeds (train.seed) vary
    # between runs of one recipe; this one stays, so that every run is measured on the same people
    split_seed: int = 42

    def validate(self) -> None:
        """Fail fast, with the reason, on anything that cannot train (before any expensive work)."""
        from .data import check_fractions

        check_fractions(self.fractions)
        self.train.validate()
        self.preprocess.validate()
        if self.encoder.embedding_dim < 2:
            raise ValueError(f"embedding_dim must be >= 2, got {self.encoder.embedding_dim}")
        if self.max_people < 0:
            raise ValueError(f"max_people must be >= 0, got {self.max_people}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        return cls(
            dataset=data["dataset"],
            train=TrainConfig.from_dict(data["train"]),
            encoder=EncoderConfig.from_dict(data["encoder"]),
            preprocess=PreprocessConfig.from_dict(data["preprocess"]),
            fractions=tuple(data["fractions"]),
            max_people=int(data["max_people"]),
            pretrained=str(data["pretrained"]),
            split_seed=int(data.get("split_seed", data["train"]["seed"])),
        )


# The model `make demo` trains when there is none yet: it must finish in about 8 minutes on 2 CPU cores on a fresh
# clone, where the teacher's descriptors are not cached (computing them takes 4 of those minutes), so it learns from
# the triplet loss alone, at 128 px, for 5 minutes, with the backbone's stem and first 2 blocks frozen (~1.5x the
# steps in those minutes: on a slow machine the budget, not the recipe, limited the model), measured on dev once, when
# the budget ends (12 of 13 runs that evaluated every epoch kept their last step; the two evaluations before it cost
# ~10% of the steps), without the weight average (measured: no gain; its learning rate is near zero over the last
# ~60 steps an average would span), embedded at its one training size (every demo run was measured so);
# docs/experiments.md. Shells print these with `python -m facerec.train.config demo`.
DEMO_FLOW_ARGS = (
    "--image_size", "128", "--max_minutes", "5", "--distill_weight", "0", "--centre_weight", "0",
    "--evals_per_epoch", "0", "--frozen_stages", "2", "--select_on", "auc", "--ema_decay", "0",
    "--eval_extra_sizes", "none",
)  # fmt: skip

if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["demo"]:
        print(" ".join(DEMO_FLOW_ARGS))
    else:
        sys.exit("usage: python -m facerec.train.config demo   (prints the demo model's flow arguments)")
