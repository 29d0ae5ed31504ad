"""The flow's evaluate step as one function: calibrate on dev people, then measure on test people.

The flow calls it on the encoder it trained; a benchmark calls it on a published bundle's encoder with another test
input (``bench/test_input_benchmark.py``), so both figures come from the same code.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..model.encoder import FaceEncoder
from ..model.preprocess import PreprocessConfig
from ..model.split import PersonSplit
from .calibrate import Calibration, cohort_names, fit_calibrators
from .data import images_of
from .evaluation import embed_paths, evaluate_test
from .openset import evaluate_open_set


@dataclass
class Assessment:
    calibration: Calibration
    metrics: dict  # the test figures, as the bundle's metrics.json holds them
    embeddings: dict[str, np.ndarray]  # every photo measured, by path
    embed_seconds: float  # decoding, preprocessing and the encoder, for all of them


def assess(
    encoder: FaceEncoder,
    preprocess: PreprocessConfig,
    people: Mapping[str, Sequence[str]],
    split: PersonSplit,
    seed: int,
) -> Assessment:
    """Embed every dev and test photo and the cohort (train-part singles: faces of nobody any gallery enrols) as
    served, fit both calibrators on dev, and measure verification, identification and both open-set rules on test."""
    names = split.dev + split.singles_dev + split.test + split.singles_test + cohort_names(split, seed)
    started = time.perf_counter()
    embeddings = embed_paths(encoder, preprocess, [item.path for item in images_of(people, names)])
    embed_seconds = time.perf_counter() - started
    fitted = fit_calibrators(embeddings, people, split, seed)
    metrics = evaluate_test(embeddings, people, split.test, split.singles_test, fitted.pair, seed)
    metrics["open_set"] = evaluate_open_set(
        embeddings, people, split.test, split.singles_test, fitted.pair, fitted.open_set, fitted.cohort
    )
    metrics["open_set_fit"] = fitted.report
    return Assessment(fitted, metrics, embeddings, embed_seconds)
