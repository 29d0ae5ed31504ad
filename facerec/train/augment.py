"""Training augmentation: random crops, rotation, flips and colour around the evaluation crop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from ..model.preprocess import CenterFraction, PreprocessConfig, eval_transform, to_normalized_tensor

AUGMENTATION_LEVELS = ("none", "low", "high")
# a square rotated by 10 degrees needs cos(10) + sin(10) ~ 1.16 times its side to stay covered
_ROTATION_MARGIN = 1.2


def reachable_region(crop_fraction: float) -> float:
    """The central share of a photo the strong augmentation can crop from: the crop plus its rotation margin."""
    return min(1.0, crop_fraction * _ROTATION_MARGIN)


def train_transform(cfg: PreprocessConfig, level: str = "high") -> Callable[[Image.Image], torch.Tensor]:
    """Augmentation around the training input (``image_size``, ``crop_fraction``)."""
    if level not in AUGMENTATION_LEVELS:
        raise ValueError(f"augmentation must be one of {AUGMENTATION_LEVELS}, got {level!r}")
    if level == "none":  # the training input without augmentation
        return eval_transform(replace(cfg, test_image_size=None, test_crop_fraction=None))
    strong = level == "high"
    ops: list[Callable] = []
    if strong:
        # rotate only the region that the central crop can reach, not the whole image: 2x cheaper
        region = reachable_region(cfg.crop_fraction)
        ops += [
            CenterFraction(region),
            T.RandomRotation(10, interpolation=InterpolationMode.BILINEAR),
            CenterFraction(cfg.crop_fraction / region),
        ]
    else:
        ops.append(CenterFraction(cfg.crop_fraction))
    ops += [
        T.RandomResizedCrop(
            cfg.image_size,
            scale=(0.7, 1.0) if strong else (0.85, 1.0),
            ratio=(0.9, 1.1),
            interpolation=cfg.interpolation_mode,
            antialias=True,
        ),
        T.RandomHorizontalFlip(),
        # no hue jitter: it costs 3x the rest of the jitter on CPU, and skin tone is not a nuisance worth simulating
        T.ColorJitter(0.3, 0.3, 0.3) if strong else T.ColorJitter(0.1, 0.1, 0.1),
    ]
    if strong:
        ops.append(T.RandomGrayscale(0.1))
    return T.Compose(ops + to_normalized_tensor(cfg))
