"""How a face crop becomes the encoder's input: the single path shared by evaluation and serving.

Training augmentation (:mod:`facerec.train.augment`) builds on the same :class:`PreprocessConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode


@dataclass(frozen=True)
class PreprocessConfig:
    """How a face crop becomes the encoder's input; travels with the model in the bundle.

    A face crop is LFW-like: the face centred, about 40% of the crop's side. ``crop_fraction`` keeps the central part
    of it (0.68 of 250 px = 170 px: the face with a little context) before resizing to ``image_size`` (192: a
    higher dev AUC than 160 for each of three seeds, docs/experiments.md "A larger input"). Training
    and test inputs sit side by side, as in timm's pretrained configs (``input_size`` / ``test_input_size``): the
    test values (``None`` = the training ones) are what model selection, calibration, evaluation and serving see.

    ``test_extra_sizes``: the same crop also resized to each of these sizes and embedded; the served embedding is the
    normalised mean of every size's (multi-scale test-time augmentation). 224 next to 192 raised dev AUC, rank-1,
    the detection rate and known-vs-unknown AUC for each of three seeds (docs/experiments.md "Two test input sizes"),
    for about twice the time to embed a face. Model selection measures the main test input alone (cheaper, and what
    every selection measured before).
    """

    image_size: int = 192
    crop_fraction: float = 0.68
    test_image_size: int | None = None
    test_crop_fraction: float | None = None
    test_extra_sizes: tuple[int, ...] = (224,)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"

    @property
    def eval_image_size(self) -> int:
        return self.test_image_size or self.image_size

    @property
    def eval_crop_fraction(self) -> float:
        return self.test_crop_fraction or self.crop_fraction

    @property
    def eval_image_sizes(self) -> tuple[int, ...]:
        """Every test input size: the main one first, then the extra ones whose embeddings are averaged with it."""
        return (self.eval_image_size, *self.test_extra_sizes)

    def single_input(self) -> PreprocessConfig:
        """The main test input alone (what model selection measures)."""
        return replace(self, test_extra_sizes=())

    def with_extra_sizes(self, sizes: tuple[int, ...]) -> PreprocessConfig:
        """The same input with other extra test sizes (a bundle refitted or measured at another test input);
        raises ValueError where they would not validate."""
        config = replace(self, test_extra_sizes=tuple(sizes))
        config.validate()
        return config

    def validate(self) -> None:
        sizes = (self.image_size, *self.eval_image_sizes)
        fractions = (self.crop_fraction, self.eval_crop_fraction)
        if min(sizes) < 32 or not all(0 < f <= 1 for f in fractions):
            raise ValueError(
                f"image sizes must be >= 32 and crop fractions in (0, 1], got sizes {sizes}, fractions {fractions}"
            )
        if len(set(self.eval_image_sizes)) != len(self.eval_image_sizes):
            raise ValueError(f"each test input size must differ from the others, got {self.eval_image_sizes}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        """Also reads bundles written before the test input had fields of its own (their input is the test one) or
        extra test sizes (they embed at one size)."""
        test_size, test_crop = data.get("test_image_size"), data.get("test_crop_fraction")
        return cls(
            image_size=int(data["image_size"]),
            crop_fraction=float(data["crop_fraction"]),
            test_image_size=int(test_size) if test_size else None,
            test_crop_fraction=float(test_crop) if test_crop else None,
            test_extra_sizes=tuple(int(size) for size in data.get("test_extra_sizes", ())),
            mean=tuple(data["mean"]),
            std=tuple(data["std"]),
            interpolation=str(data["interpolation"]),
        )

    @property
    def interpolation_mode(self) -> InterpolationMode:
        return InterpolationMode(self.interpolation)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"224"`` or ``"208,224"`` -> sizes in px; ``"none"`` or ``""`` -> none (how shells pass extra test sizes)."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"test input sizes must be comma-separated whole pixels or 'none', got {text!r}") from None


class CenterFraction:
    """Crop the central square whose side is ``fraction`` of the image's shorter side."""

    def __init__(self, fraction: float):
        self.fraction = fraction

    def __call__(self, image: Image.Image) -> Image.Image:
        w, h = image.size
        side = max(1, round(min(w, h) * self.fraction))
        left, top = (w - side) // 2, (h - side) // 2
        return image.crop((left, top, left + side, top + side))


def to_normalized_tensor(cfg: PreprocessConfig) -> list[Callable]:
    return [T.ToTensor(), T.Normalize(cfg.mean, cfg.std)]


def eval_transform(cfg: PreprocessConfig, size: int | None = None) -> Callable[[Image.Image], torch.Tensor]:
    """The test input: central ``eval_crop_fraction``, resized to ``size`` (default: ``eval_image_size``)."""
    size = size or cfg.eval_image_size
    return T.Compose(
        [
            CenterFraction(cfg.eval_crop_fraction),
            T.Resize((size, size), interpolation=cfg.interpolation_mode, antialias=True),
            *to_normalized_tensor(cfg),
        ]
    )


def load_rgb(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def preprocess(images: Sequence[Image.Image], cfg: PreprocessConfig, size: int | None = None) -> torch.Tensor:
    """Face crops (RGB PIL images) -> a normalised batch for the encoder at one test input ``size`` (default: the
    main one)."""
    transform = eval_transform(cfg, size)
    # an RGB image goes through as it is: convert() would copy it once per test input size
    return torch.stack([transform(image if image.mode == "RGB" else image.convert("RGB")) for image in images])


def preprocess_views(images: Sequence[Image.Image], cfg: PreprocessConfig) -> list[torch.Tensor]:
    """One batch per test input size (:attr:`PreprocessConfig.eval_image_sizes`): what an embedding averages over.
    Serving and evaluation both call this."""
    images = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
    return [preprocess(images, cfg, size) for size in cfg.eval_image_sizes]
