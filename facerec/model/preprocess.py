"""How a face crop becomes the encoder's input: the single path shared by evaluation and serving.

Training augmentation (:mod:`facerec.train.augment`) builds on the same :class:`PreprocessConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

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
    """

    image_size: int = 192
    crop_fraction: float = 0.68
    test_image_size: int | None = None
    test_crop_fraction: float | None = None
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"

    @property
    def eval_image_size(self) -> int:
        return self.test_image_size or self.image_size

    @property
    def eval_crop_fraction(self) -> float:
        return self.test_crop_fraction or self.crop_fraction

    def validate(self) -> None:
        sizes = (self.image_size, self.eval_image_size)
        fractions = (self.crop_fraction, self.eval_crop_fraction)
        if min(sizes) < 32 or not all(0 < f <= 1 for f in fractions):
            raise ValueError(
                f"image sizes must be >= 32 and crop fractions in (0, 1], got sizes {sizes}, fractions {fractions}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        """Also reads bundles written before the test input had fields of its own (their input is the test one)."""
        test_size, test_crop = data.get("test_image_size"), data.get("test_crop_fraction")
        return cls(
            image_size=int(data["image_size"]),
            crop_fraction=float(data["crop_fraction"]),
            test_image_size=int(test_size) if test_size else None,
            test_crop_fraction=float(test_crop) if test_crop else None,
            mean=tuple(data["mean"]),
            std=tuple(data["std"]),
            interpolation=str(data["interpolation"]),
        )

    @property
    def interpolation_mode(self) -> InterpolationMode:
        return InterpolationMode(self.interpolation)


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


def eval_transform(cfg: PreprocessConfig) -> Callable[[Image.Image], torch.Tensor]:
    """The test input: central ``eval_crop_fraction``, resized to ``eval_image_size``."""
    size = cfg.eval_image_size
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


def preprocess(images: Sequence[Image.Image], cfg: PreprocessConfig) -> torch.Tensor:
    """Face crops (RGB PIL images) -> a normalised batch for the encoder. Serving and evaluation both call this."""
    transform = eval_transform(cfg)
    return torch.stack([transform(image.convert("RGB")) for image in images])
