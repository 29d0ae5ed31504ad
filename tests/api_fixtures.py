"""A real (small) model bundle for service tests: the ImageNet Lite0 backbone with a briefly trained projection,
calibrated on real dev pairs through the same code as the flow."""

from __future__ import annotations

from pathlib import Path

import torch

from facerec.bundle import ModelBundle
from facerec.calibration import IsotonicCalibrator
from facerec.data import limit_split, split_people
from facerec.encoder import EncoderConfig, FaceEncoder
from facerec.evaluation import build_pairs, evaluate_verification
from facerec.training import TrainConfig, train


def make_test_bundle(people: dict[str, list[str]], folder: Path, steps: int = 40) -> Path:
    torch.manual_seed(0)
    split = limit_split(split_people(people), 60)
    encoder = FaceEncoder(EncoderConfig(flip_tta=False))
    preprocess = encoder.default_preprocess(image_size=96)
    dev_pairs = build_pairs(people, split.dev)
    config = TrainConfig(max_steps=steps, epochs=100, evals_per_epoch=1, patience=100, augmentation="low")
    train(encoder, people, split.train, dev_pairs, preprocess, config, progress=False)
    calibrator = IsotonicCalibrator.fit(evaluate_verification(encoder, preprocess, dev_pairs), dev_pairs.labels)
    bundle = ModelBundle(encoder, preprocess, calibrator, split, metrics={"roc_auc": None})
    return bundle.save(folder)
