"""Training flow: LFW -> person-disjoint split -> triplet fine-tune -> evaluate + calibrate -> model bundle.

    python metaflow_train.py run                      # defaults: the full LFW run (about 40 min on 2 cores)
    python metaflow_train.py run --max_people 40 --max_steps 20 --image_size 128   # a quick smoke run
    python metaflow_train.py card view evaluate       # metrics and reliability diagram

All logic lives in the ``facerec`` package; the steps only wire it together.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

from dotenv import load_dotenv

load_dotenv(Path(__file__).with_name(".env"), override=False)
# Metaflow refuses to run without a user name other than root (containers, CI): give it one
if os.environ.get("USER", "root") == "root" and not os.environ.get("METAFLOW_USER"):
    os.environ["METAFLOW_USER"] = "facerec"

from metaflow import FlowSpec, Parameter, card, current, step  # noqa: E402

_ROOT = Path(__file__).resolve().parent
_SHARED_LFW = _ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"
DEFAULT_DATASET = os.environ.get("LFW_DIR") or str(
    _SHARED_LFW if _SHARED_LFW.is_dir() else _ROOT / "data" / "lfw-deepfunneled"
)


class FacialRecognitionTrainFlow(FlowSpec):
    dataset = Parameter(
        "dataset", default=DEFAULT_DATASET, help="LFW folder (<Person>/<image>.jpg) or the s3:// prefix of an upload"
    )
    train_fraction = Parameter("train_fraction", default=0.6, help="share of people used for training")
    dev_fraction = Parameter("dev_fraction", default=0.2, help="share of people for model selection + calibration")
    test_fraction = Parameter("test_fraction", default=0.2, help="share of people for the reported metrics")
    max_people = Parameter("max_people", default=0, help="keep at most this many people per split part (0 = all)")
    backbone = Parameter("backbone", default="tf_efficientnet_lite0", help="timm backbone name")
    pretrained = Parameter(
        "pretrained",
        default="imagenet",
        help="'imagenet' (offline file for Lite0, timm hub otherwise), 'none' or a path",
    )
    embedding_dim = Parameter("embedding_dim", default=300, help="embedding size")
    image_size = Parameter("image_size", default=160, help="training input side in pixels (224 costs 2.2x per image)")
    crop_fraction = Parameter("crop_fraction", default=0.68, help="central share of the face crop in training")
    # a larger test input than the training one (Touvron et al. 2019, "FixRes") raises verification AUC but lowers
    # rank-1 identification here (bench/test_time_resolution.py on dev people), so serving matches training by default
    eval_scale = Parameter("eval_scale", default=1.0, help="input side for evaluation and serving = image_size x this")
    eval_crop_fraction = Parameter(
        "eval_crop_fraction", default=0.0, help="face crop share for evaluation and serving (0 = crop_fraction)"
    )
    flip_tta = Parameter("flip_tta", default=True, type=bool, help="average embeddings of the image and its mirror")
    epochs = Parameter("epochs", default=10, help="maximum epochs (epoch = one pass worth of training images)")
    batch_size = Parameter("batch_size", default=32, help="images per batch (P people x K images)")
    images_per_person = Parameter("images_per_person", default=4, help="K: images of each person in a batch")
    lr = Parameter("lr", default=1e-3, help="AdamW learning rate of the projection head")
    backbone_lr_scale = Parameter("backbone_lr_scale", default=0.5, help="backbone lr = lr x this")
    weight_decay = Parameter("weight_decay", default=1e-2, help="AdamW weight decay (weights only)")
    margin = Parameter("margin", default=0.25, help="batch-hard triplet margin in cosine distance")
    soft_margin = Parameter("soft_margin", default=False, type=bool, help="soft-margin triplet loss instead")
    cosface_weight = Parameter(
        "cosface_weight", default=0.0, help="weight of an auxiliary CosFace loss over training identities (0 = off)"
    )
    # measured on dev people (README): relational distillation at weight 1 beat the triplet loss alone; weight 4 and the
    # embedding mode did worse
    distill_weight = Parameter(
        "distill_weight", default=1.0, help="weight of distillation from the dlib face teacher (0 = off)"
    )
    distill_mode = Parameter("distill_mode", default="relation", help="relation | embedding (facerec.train.losses)")
    ema_decay = Parameter("ema_decay", default=0.0, help="weight moving average kept and evaluated (0 = off)")
    warmup_fraction = Parameter("warmup_fraction", default=0.05, help="linear warm-up share, then cosine decay")
    grad_clip_norm = Parameter("grad_clip_norm", default=5.0, help="gradient clipping (global L2 norm)")
    evals_per_epoch = Parameter("evals_per_epoch", default=2, help="dev evaluations per epoch")
    patience = Parameter("patience", default=3, help="evaluations without a better dev AUC before stopping")
    max_minutes = Parameter("max_minutes", default=38.0, help="wall-clock budget of the training loop (0 = none)")
    max_steps = Parameter("max_steps", default=0, help="stop after this many steps (0 = no limit)")
    augmentation = Parameter("augmentation", default="high", help="none | low | high")
    seed = Parameter("seed", default=42, help="seed of the split, the sampler and the initialisation")
    num_threads = Parameter("num_threads", default=0, help="torch CPU threads (0 = torch's default)")
    num_workers = Parameter("num_workers", default=0, help="data-loading worker processes")
    bucket = Parameter("bucket", default=os.environ.get("S3_BUCKET", ""), help="S3 bucket to publish to ('' = none)")

    def _train_config(self):
        from facerec.train.training import TrainConfig

        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            images_per_person=self.images_per_person,
            lr=self.lr,
            backbone_lr_scale=self.backbone_lr_scale,
            weight_decay=self.weight_decay,
            margin=self.margin,
            soft_margin=self.soft_margin,
            cosface_weight=self.cosface_weight,
            distill_weight=self.distill_weight,
            distill_mode=self.distill_mode,
            ema_decay=self.ema_decay,
            warmup_fraction=self.warmup_fraction,
            grad_clip_norm=self.grad_clip_norm,
            evals_per_epoch=self.evals_per_epoch,
            patience=self.patience,
            max_minutes=self.max_minutes,
            max_steps=self.max_steps,
            augmentation=self.augmentation,
            seed=self.seed,
            num_workers=self.num_workers,
        )

    @property
    def _eval_image_size(self) -> int:
        return round(self.image_size * self.eval_scale)

    @property
    def _eval_crop_fraction(self) -> float:
        return self.eval_crop_fraction or self.crop_fraction

    def _encoder(self, pretrained: str):
        import torch

        from facerec.model.encoder import EncoderConfig, FaceEncoder

        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        return FaceEncoder(EncoderConfig(self.backbone, self.embedding_dim, self.flip_tta), pretrained=pretrained)

    def _people_and_split(self):
        from facerec.model.split import PersonSplit
        from facerec.train.data import resolve_dataset, scan_people

        return scan_people(resolve_dataset(self.dataset)), PersonSplit.from_json(self.split_json)

    def _trained_encoder(self):
        from safetensors.torch import load

        encoder = self._encoder("none")
        encoder.load_state_dict(load(self.weights))
        return encoder

    @step
    def start(self):
        """Validate every parameter before any expensive work."""
        from facerec.train.data import check_fractions, resolve_dataset

        check_fractions((self.train_fraction, self.dev_fraction, self.test_fraction))
        self._train_config().validate()
        fractions = (self.crop_fraction, self._eval_crop_fraction)
        if min(self.image_size, self._eval_image_size) < 32 or not all(0 < f <= 1 for f in fractions):
            raise ValueError(
                "image_size and image_size x eval_scale must be >= 32, crop_fraction and eval_crop_fraction "
                "in (0, 1] (eval_crop_fraction 0 = crop_fraction)"
            )
        if self.embedding_dim < 2:
            raise ValueError(f"embedding_dim must be >= 2, got {self.embedding_dim}")
        if self.distill_weight:
            from facerec.train.teacher import check_available

            check_available()
        if not self.dataset.startswith("s3://"):
            resolve_dataset(self.dataset)
        if self.bucket:  # find out now, not after training, that the model cannot be published
            from facerec.storage import S3Config, ensure_bucket

            ensure_bucket(S3Config(), self.bucket)
        self.next(self.split)

    @step
    def split(self):
        """Person-disjoint split; the dataset is downloaded here once when it lives in S3."""
        from facerec.train.data import limit_split, resolve_dataset, scan_people, split_people

        people = scan_people(resolve_dataset(self.dataset))
        split = split_people(people, (self.train_fraction, self.dev_fraction, self.test_fraction), self.seed)
        if self.max_people:
            split = limit_split(split, self.max_people, self.seed)
        self._train_config().validate(len(split.train))
        self.split_json = split.to_json()
        self.split_counts = {part: len(split.part(part)) for part in ("train", "dev", "test")}
        print(f"people per part: {self.split_counts}; single-image people: {len(split.singles)}")
        self.next(self.train)

    @card(type="blank")
    @step
    def train(self):
        """Batch-hard triplet fine-tuning with dev-set model selection."""
        from metaflow.cards import Image, Markdown, Table
        from safetensors.torch import save

        from facerec.train.evaluation import build_pairs
        from facerec.train.plots import training_curves
        from facerec.train.teacher import TEACHER_ID
        from facerec.train.training import train

        people, split = self._people_and_split()
        encoder = self._encoder(self.pretrained)
        preprocess = encoder.default_preprocess(self.image_size, self.crop_fraction)
        dev_pairs = build_pairs(people, split.dev, seed=self.seed)

        def log(record: dict) -> None:
            print(
                " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True
            )

        config = self._train_config()
        teacher, self.teacher_seconds = None, 0.0
        if config.distill_weight:
            import time

            from facerec.train.teacher import teacher_descriptors

            # computed once per image and cached; the time spent here comes out of the loop's budget so that a
            # cold cache does not lengthen the run
            started = time.monotonic()
            teacher = teacher_descriptors(people, split.train)
            self.teacher_seconds = time.monotonic() - started
            if config.max_minutes:
                config = dataclasses.replace(
                    config, max_minutes=max(1.0, config.max_minutes - self.teacher_seconds / 60)
                )
        result = train(encoder, people, split.train, dev_pairs, preprocess, config, on_eval=log, teacher=teacher)
        self.weights = save({k: v.contiguous() for k, v in encoder.state_dict().items()})
        self.encoder_config = encoder.config.to_dict()
        # the bundle carries the evaluation/serving input; the training input is kept for the record
        serving = dataclasses.replace(
            preprocess,
            image_size=self._eval_image_size,
            crop_fraction=self._eval_crop_fraction,
        )
        self.preprocess_config = serving.to_dict()
        self.train_result = result.to_dict() | {
            "preprocess": preprocess.to_dict(),
            "teacher": TEACHER_ID if teacher else None,
            "teacher_seconds": round(self.teacher_seconds, 1),
        }
        current.card.append(
            Markdown(
                f"# Training\n{result.steps} steps, {result.images_seen:,} images, "
                f"{result.images_per_second:.1f} images/s, {result.train_seconds / 60:.1f} min. "
                f"Stopped: {result.stop_reason}. Best dev AUC {result.best_dev_auc:.4f} at step {result.best_step}."
            )
        )
        current.card.append(Image.from_matplotlib(training_curves(result.history)))
        keys = ["step", "epoch", "loss", "dev_auc", "dev_accuracy", "lr", "elapsed_s"]
        current.card.append(
            Table(
                [[round(h[k], 4) if isinstance(h[k], float) else h[k] for k in keys] for h in result.history],
                headers=keys,
            )
        )
        self.next(self.evaluate)

    @card(type="blank")
    @step
    def evaluate(self):
        """Calibrate on dev pairs, then measure everything on test people."""
        from metaflow.cards import Image, Markdown, Table

        from facerec.model.preprocess import PreprocessConfig
        from facerec.train.calibrate import fit_isotonic
        from facerec.train.evaluation import build_pairs, evaluate_test, evaluate_verification
        from facerec.train.plots import reliability_diagram

        people, split = self._people_and_split()
        encoder = self._trained_encoder()
        preprocess = PreprocessConfig.from_dict(self.preprocess_config)
        dev_pairs = build_pairs(people, split.dev, seed=self.seed)
        calibrator = fit_isotonic(evaluate_verification(encoder, preprocess, dev_pairs), dev_pairs.labels)
        self.calibrator = calibrator.to_dict()
        self.metrics = evaluate_test(encoder, preprocess, people, split.test, split.singles, calibrator, seed=self.seed)
        self.metrics["train_images_per_second"] = self.train_result["images_per_second"]
        shown = {k: v for k, v in self.metrics.items() if not isinstance(v, dict)}
        current.card.append(Markdown(f"# Test metrics ({len(split.test)} people never seen in training)"))
        current.card.append(Table([[k, round(v, 4) if isinstance(v, float) else v] for k, v in shown.items()]))
        current.card.append(
            Image.from_matplotlib(reliability_diagram(self.metrics["reliability"], self.metrics["ece_15_bins"]))
        )
        print(json.dumps(shown, indent=1))
        self.next(self.publish)

    @step
    def publish(self):
        """Write the bundle to the Metaflow datastore and, with a bucket configured, to S3 with a latest manifest."""
        from facerec.model.bundle import ModelBundle, bundle_files, publish_to_s3
        from facerec.model.calibration import IsotonicCalibrator
        from facerec.model.preprocess import PreprocessConfig
        from facerec.model.split import PersonSplit
        from facerec.storage import S3Config

        bundle = ModelBundle(
            encoder=self._trained_encoder(),
            preprocess=PreprocessConfig.from_dict(self.preprocess_config),
            calibrator=IsotonicCalibrator.from_dict(self.calibrator),
            split=PersonSplit.from_json(self.split_json),
            metrics=self.metrics | {"train": self.train_result},
            run_id=f"{current.flow_name}-{current.run_id}",
        )
        with tempfile.TemporaryDirectory() as folder:
            bundle.save(folder)
            self.bundle_files = bundle_files(folder)
            self.model_version = bundle.model_version
            self.s3_manifest = None
            if self.bucket:
                self.s3_manifest = publish_to_s3(
                    folder, self.bucket, str(current.run_id), S3Config(), {"flow": current.flow_name}
                )
                print(f"published {self.s3_manifest['bundle_uri']} (manifest s3://{self.bucket}/models/latest.json)")
        print(f"model version {self.model_version}")
        self.next(self.end)

    @step
    def end(self):
        summary = {
            k: self.metrics[k] for k in ("verification_accuracy", "roc_auc", "tar_at_far_1e-3", "open_set_rank1")
        }
        print(f"done: {self.model_version} {json.dumps(summary)}")


if __name__ == "__main__":
    FacialRecognitionTrainFlow()
