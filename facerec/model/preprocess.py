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
    of it (0.68 of 250 px = 170 px: the face with a little context) before resizing to ``image_size``.
    """

    image_size: int = 160
    crop_fraction: float = 0.68
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        return cls(
            image_size=int(data["image_size"]),
            crop_fraction=float(data["crop_fraction"]),
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
    return T.Compose(
        [
            CenterFraction(cfg.crop_fraction),
            T.Resize((cfg.image_size, cfg.image_size), interpolation=cfg.interpolation_mode, antialias=True),
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
