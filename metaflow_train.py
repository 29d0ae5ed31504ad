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

from facerec.model.encoder import EncoderConfig, backbone_preprocess  # noqa: E402
from facerec.model.preprocess import PreprocessConfig, parse_sizes  # noqa: E402
from facerec.train.config import Recipe, TrainConfig  # noqa: E402

_ROOT = Path(__file__).resolve().parent
_SHARED_LFW = _ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"
DEFAULT_DATASET = os.environ.get("LFW_DIR") or str(
    _SHARED_LFW if _SHARED_LFW.is_dir() else _ROOT / "data" / "lfw-deepfunneled"
)


_TRAIN, _ENCODER, _INPUT, _RECIPE = TrainConfig(), EncoderConfig(), PreprocessConfig(), Recipe(dataset="")


class FacialRecognitionTrainFlow(FlowSpec):
    # every default comes from the configuration classes (facerec/train/config.py, facerec/model/*.py): one place each
    dataset = Parameter(
        "dataset", default=DEFAULT_DATASET, help="LFW folder (<Person>/<image>.jpg) or the s3:// prefix of an upload"
    )
    train_fraction = Parameter("train_fraction", default=_RECIPE.fractions[0], help="share of people for training")
    dev_fraction = Parameter("dev_fraction", default=_RECIPE.fractions[1], help="people for selection + calibration")
    test_fraction = Parameter("test_fraction", default=_RECIPE.fractions[2], help="people for the reported metrics")
    max_people = Parameter("max_people", default=_RECIPE.max_people, help="at most this many people per part (0 = all)")
    backbone = Parameter("backbone", default=_ENCODER.backbone, help="timm backbone name")
    pretrained = Parameter(
        "pretrained",
        default=_RECIPE.pretrained,
        help="'imagenet' (offline for Lite0, timm hub otherwise), 'none' or a file",
    )
    embedding_dim = Parameter("embedding_dim", default=_ENCODER.embedding_dim, help="embedding size")
    image_size = Parameter("image_size", default=_INPUT.image_size, help="training input side in pixels")
    crop_fraction = Parameter("crop_fraction", default=_INPUT.crop_fraction, help="central share of the face crop")
    # a larger test input than the training one (Touvron et al. 2019, "FixRes") raises verification AUC but lowers
    # rank-1 identification here (bench/test_time_resolution.py on dev people), so serving matches training by default
    eval_scale = Parameter(
        "eval_scale", default=1.0, help="test input (selection, evaluation, serving) = image_size x this"
    )
    eval_crop_fraction = Parameter("eval_crop_fraction", default=0.0, help="test crop share (0 = crop_fraction)")
    eval_extra_sizes = Parameter(
        "eval_extra_sizes",
        default=",".join(str(size) for size in _INPUT.test_extra_sizes) or "none",
        help="more test input sizes in px, comma-separated, whose embeddings are averaged with the main one "
        "('none': one size); chosen for the default image_size: set it with another",
    )
    flip_tta = Parameter("flip_tta", default=_ENCODER.flip_tta, type=bool, help="average image and mirror embeddings")
    epochs = Parameter("epochs", default=_TRAIN.epochs, help="maximum epochs (one = a pass over labelled images)")
    batch_size = Parameter("batch_size", default=_TRAIN.batch_size, help="images per batch (P people x K images)")
    images_per_person = Parameter("images_per_person", default=_TRAIN.images_per_person, help="K: images per person")
    singles_per_batch = Parameter(
        "singles_per_batch", default=_TRAIN.singles_per_batch, help="train-part single-image people added per batch"
    )
    lr = Parameter("lr", default=_TRAIN.lr, help="AdamW learning rate of the projection head")
    backbone_lr_scale = Parameter("backbone_lr_scale", default=_TRAIN.backbone_lr_scale, help="backbone lr = lr x this")
    weight_decay = Parameter("weight_decay", default=_TRAIN.weight_decay, help="AdamW weight decay (weights only)")
    margin = Parameter("margin", default=_TRAIN.margin, help="batch-hard triplet margin in cosine distance")
    soft_margin = Parameter("soft_margin", default=_TRAIN.soft_margin, type=bool, help="soft-margin triplet loss")
    cosface_weight = Parameter("cosface_weight", default=_TRAIN.cosface_weight, help="auxiliary CosFace loss (0 = off)")
    distill_weight = Parameter(
        "distill_weight", default=_TRAIN.distill_weight, help="dlib teacher distillation (0 = off)"
    )
    distill_mode = Parameter("distill_mode", default=_TRAIN.distill_mode, help="relation | embedding")
    distill_memory = Parameter(
        "distill_memory", default=_TRAIN.distill_memory, help="earlier images the relation also covers (0 = batch)"
    )
    lookalike_batches = Parameter(
        "lookalike_batches", default=_TRAIN.lookalike_batches, help="share of batches of teacher look-alikes"
    )
    lookalike_pool = Parameter("lookalike_pool", default=_TRAIN.lookalike_pool, help="look-alikes drawn from")
    centre_weight = Parameter(
        "centre_weight", default=_TRAIN.centre_weight, help="margin softmax on the teacher's identity centres (0 = off)"
    )
    centre_margin = Parameter("centre_margin", default=_TRAIN.centre_margin, help="cosine margin of the centre loss")
    centre_scale = Parameter("centre_scale", default=_TRAIN.centre_scale, help="logit scale of the centre loss")
    centre_singles = Parameter(
        "centre_singles", default=_TRAIN.centre_singles, type=bool, help="train-part singles as centre-loss negatives"
    )
    ema_decay = Parameter("ema_decay", default=_TRAIN.ema_decay, help="weight moving average (0 = off)")
    frozen_stages = Parameter(
        "frozen_stages", default=_TRAIN.frozen_stages, help="backbone stem (0) + first N blocks frozen (-1 = none)"
    )
    warmup_fraction = Parameter("warmup_fraction", default=_TRAIN.warmup_fraction, help="linear warm-up share")
    grad_clip_norm = Parameter("grad_clip_norm", default=_TRAIN.grad_clip_norm, help="gradient clipping (global L2)")
    evals_per_epoch = Parameter(
        "evals_per_epoch", default=_TRAIN.evals_per_epoch, help="dev evaluations per epoch (0: once, at the end)"
    )
    select_on = Parameter("select_on", default=_TRAIN.select_on, help="auc | auc+dir: what model selection maximises")
    patience = Parameter("patience", default=_TRAIN.patience, help="evaluations without a better selection score")
    dev_gallery_draws = Parameter(
        "dev_gallery_draws", default=_TRAIN.dev_gallery_draws, help="dev galleries each evaluation averages over"
    )
    max_minutes = Parameter("max_minutes", default=_TRAIN.max_minutes, help="wall-clock budget of training (0 = none)")
    max_steps = Parameter("max_steps", default=_TRAIN.max_steps, help="stop after this many steps (0 = no limit)")
    augmentation = Parameter("augmentation", default=_TRAIN.augmentation, help="none | low | high")
    seed = Parameter("seed", default=_TRAIN.seed, help="training seed: the sampler and the initialisation")
    split_seed = Parameter(
        "split_seed", default=_RECIPE.split_seed, help="the protocol's seed: split, pairs, galleries, cohort"
    )
    num_threads = Parameter("num_threads", default=0, help="torch CPU threads (0 = torch's default)")
    num_workers = Parameter("num_workers", default=_TRAIN.num_workers, help="data-loading worker processes")
    device = Parameter("device", default=_TRAIN.device, help="training loop: auto (a CUDA GPU if any) | cpu | cuda")
    bucket = Parameter("bucket", default=os.environ.get("S3_BUCKET", ""), help="S3 bucket to publish to ('' = none)")

    def _build_recipe(self) -> Recipe:
        """The one configuration object of this run, from the parameters (``start`` only; later steps read it)."""
        train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
        train = TrainConfig(**{name: getattr(self, name) for name in train_fields if hasattr(self, name)})
        test_size = round(self.image_size * self.eval_scale) if self.eval_scale != 1.0 else None
        return Recipe(
            dataset=self.dataset,
            train=train,
            encoder=EncoderConfig(self.backbone, self.embedding_dim, self.flip_tta),
            preprocess=backbone_preprocess(
                self.backbone,
                image_size=self.image_size,
                crop_fraction=self.crop_fraction,
                test_image_size=test_size,
                test_crop_fraction=self.eval_crop_fraction or None,
                test_extra_sizes=parse_sizes(self.eval_extra_sizes),
            ),
            fractions=(self.train_fraction, self.dev_fraction, self.test_fraction),
            max_people=self.max_people,
            pretrained=self.pretrained,
            split_seed=self.split_seed,
        )

    @property
    def _recipe(self) -> Recipe:
        return Recipe.from_dict(self.recipe)

    def _encoder(self, pretrained: str):
        import torch

        from facerec.model.encoder import FaceEncoder

        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        return FaceEncoder(self._recipe.encoder, pretrained=pretrained)

    def _people_and_split(self):
        from facerec.model.split import PersonSplit
        from facerec.train.data import resolve_dataset, scan_people

        return scan_people(resolve_dataset(self._recipe.dataset)), PersonSplit.from_json(self.split_json)

    def _trained_encoder(self):
        from safetensors.torch import load

        encoder = self._encoder("none")
        encoder.load_state_dict(load(self.weights))
        return encoder

    @step
    def start(self):
        """Build the run's recipe from the parameters and validate it, the dataset and the bucket: bad settings fail
        in seconds, not after training."""
        from facerec.train.data import resolve_dataset

        recipe = self._build_recipe()
        recipe.validate()
        if recipe.train.needs_teacher:
            from facerec.train.teacher import check_available

            check_available()
        if not recipe.dataset.startswith("s3://"):
            resolve_dataset(recipe.dataset)
        if self.bucket:  # find out now, not after training, that the model cannot be published
            from facerec.storage import S3Config, ensure_bucket

            ensure_bucket(S3Config(), self.bucket)
        self.recipe = recipe.to_dict()
        self.next(self.split)

    @step
    def split(self):
        """Person-disjoint split; the dataset is downloaded here once when it lives in S3."""
        from facerec.train.data import limit_split, resolve_dataset, scan_people, split_people

        recipe = self._recipe
        people = scan_people(resolve_dataset(recipe.dataset))
        split = split_people(people, recipe.fractions, recipe.split_seed)
        if recipe.max_people:
            split = limit_split(split, recipe.max_people, recipe.split_seed)
        recipe.train.validate(len(split.train))
        self.split_json = split.to_json()
        self.split_counts = {part: len(split.part(part)) for part in ("train", "dev", "test")}
        singles = {part: len(split.singles(part)) for part in ("train", "dev", "test")}
        print(f"people per part: {self.split_counts}; single-image people per part: {singles}")
        self.next(self.train)

    @card(type="blank")
    @step
    def train(self):
        """Fine-tune the encoder with dev-set model selection."""
        from metaflow.cards import Image, Markdown, Table
        from safetensors.torch import save

        from facerec.train.evaluation import DevProtocol
        from facerec.train.plots import training_curves
        from facerec.train.teacher import TEACHER_ID
        from facerec.train.training import train

        recipe = self._recipe
        people, split = self._people_and_split()
        encoder = self._encoder(recipe.pretrained)
        dev = DevProtocol.build(
            people, split.dev, split.singles_dev, seed=recipe.split_seed, gallery_draws=recipe.train.dev_gallery_draws
        )

        def log(record: dict) -> None:
            print(
                " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True
            )

        config = recipe.train
        teacher, self.teacher_seconds = None, 0.0
        if config.needs_teacher:
            import time

            from facerec.train.teacher import teacher_descriptors

            # computed once per image and cached; the time spent here comes out of the loop's budget so that a
            # cold cache does not lengthen the run
            started = time.monotonic()
            names = split.train + (split.singles_train if config.uses_singles else [])
            teacher = teacher_descriptors(people, names)
            self.teacher_seconds = time.monotonic() - started
            if config.max_minutes:
                config = dataclasses.replace(
                    config, max_minutes=max(1.0, config.max_minutes - self.teacher_seconds / 60)
                )
        result = train(
            encoder,
            people,
            split.train,
            dev,
            recipe.preprocess,
            config,
            on_eval=log,
            teacher=teacher,
            train_singles=split.singles_train,
        )
        self.weights = save({k: v.contiguous() for k, v in encoder.state_dict().items()})
        self.train_result = result.to_dict() | {
            "teacher": TEACHER_ID if teacher else None,
            "teacher_seconds": round(self.teacher_seconds, 1),
        }
        current.card.append(
            Markdown(
                f"# Training\n{result.steps} steps, {result.images_seen:,} images, "
                f"{result.images_per_second:.1f} images/s, {result.train_seconds / 60:.1f} min. "
                f"Stopped: {result.stop_reason}. Best dev selection score {result.best_selection_score:.4f} "
                f"(dev AUC {result.best_dev_auc:.4f}) at step {result.best_step}."
            )
        )
        current.card.append(Image.from_matplotlib(training_curves(result.history)))
        keys = ["step", "epoch", "loss", "dev_auc", "dev_rank1", "dev_dir_at_fpir_0.05", "selection_score", "lr"]
        current.card.append(
            Table(
                [[round(h[k], 4) if isinstance(h.get(k), float) else h.get(k) for k in keys] for h in result.history],
                headers=keys,
            )
        )
        self.next(self.evaluate)

    @card(type="blank")
    @step
    def evaluate(self):
        """Calibrate on dev people (pairs, and open-set simulations against dev strangers), then measure everything on
        test people and test strangers."""
        from metaflow.cards import Image, Markdown, Table

        from facerec.train.assessment import assess
        from facerec.train.plots import det_plot, reliability_diagram

        recipe = self._recipe
        people, split = self._people_and_split()
        assessment = assess(self._trained_encoder(), recipe.preprocess, people, split, recipe.split_seed)
        fitted = assessment.calibration
        self.open_set_fit = fitted.report
        self.calibrator, self.open_set, self.cohort = fitted.pair.to_dict(), fitted.open_set.to_dict(), fitted.cohort
        self.metrics = assessment.metrics
        self.metrics["train_images_per_second"] = self.train_result["images_per_second"]
        shown = {k: v for k, v in self.metrics.items() if not isinstance(v, dict)}
        current.card.append(Markdown(f"# Test metrics ({len(split.test)} people never seen in training)"))
        current.card.append(Table([[k, round(v, 4) if isinstance(v, float) else v] for k, v in shown.items()]))
        keys = [
            "rank1",
            "fnir_at_fpir_0.01",
            "fnir_at_fpir_0.05",
            "strangers_named",
            "known_named_correctly",
            "ece_15_bins",
            "known_vs_unknown_auc",
        ]
        rows = [
            [gallery, rule, *(v if v is None else round(v, 4) for v in (results[rule][k] for k in keys))]
            for gallery, results in self.metrics["open_set"].items()
            for rule in ("pair", "open_set")
        ]
        current.card.append(Markdown(f"## Open-set identification ({len(split.singles_test)} test strangers)"))
        current.card.append(Table(rows, headers=["gallery", "rule", *keys]))
        current.card.append(Image.from_matplotlib(det_plot(self.metrics["open_set"])))
        current.card.append(
            Image.from_matplotlib(reliability_diagram(self.metrics["reliability"], self.metrics["ece_15_bins"]))
        )
        print(
            json.dumps(
                shown | {"open_set_1_photo": self.metrics["open_set"]["1_photos"]["open_set"]}, indent=1, default=str
            )
        )
        self.next(self.publish)

    @step
    def publish(self):
        """Write the bundle to the Metaflow datastore and, with a bucket configured, to S3 with a latest manifest."""
        from facerec.model.bundle import ModelBundle, bundle_files, publish_to_s3
        from facerec.model.calibration import IsotonicCalibrator
        from facerec.model.openset import OpenSetCalibrator
        from facerec.model.split import PersonSplit
        from facerec.storage import S3Config

        bundle = ModelBundle(
            encoder=self._trained_encoder(),
            preprocess=self._recipe.preprocess,
            calibrator=IsotonicCalibrator.from_dict(self.calibrator),
            open_set=OpenSetCalibrator.from_dict(self.open_set),
            cohort=self.cohort,
            split=PersonSplit.from_json(self.split_json),
            metrics=self.metrics | {"train": self.train_result | {"recipe": self.recipe}},
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
