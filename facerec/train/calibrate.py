"""Fitting the calibrators a bundle carries (serving only applies them: :mod:`facerec.model.calibration`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression

from ..model.calibration import IsotonicCalibrator
from ..model.openset import OpenSetCalibrator
from ..model.split import PersonSplit
from .evaluation import build_pairs, pair_similarities
from .openset import fit_open_set


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
    """Cosine similarity -> P(same person), by isotonic regression on labelled pairs."""
    model = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64))
    return IsotonicCalibrator(model.X_thresholds_, model.y_thresholds_)


# train-part singles in the cohort the open-set evidence normalises against (faces of nobody any gallery enrols)
COHORT_SIZE = 1000


def cohort_names(split: PersonSplit, seed: int) -> list[str]:
    """The cohort: up to :data:`COHORT_SIZE` train-part single-image people, drawn with the protocol's seed."""
    rng = np.random.RandomState(seed)
    return sorted(rng.choice(split.singles_train, min(COHORT_SIZE, len(split.singles_train)), replace=False))


@dataclass
class Calibration:
    """What a bundle needs to turn similarities into probabilities, and how the open-set fit chose."""

    pair: IsotonicCalibrator
    open_set: OpenSetCalibrator
    cohort: np.ndarray
    report: dict


def fit_calibrators(
    embeddings: Mapping[str, np.ndarray], people: Mapping[str, Sequence[str]], split: PersonSplit, seed: int
) -> Calibration:
    """Both calibrators from dev people and dev strangers only: the pair calibrator on dev pairs, the open-set
    calibrator on dev simulations (:func:`facerec.train.openset.fit_open_set`) against the cohort.

    ``embeddings`` holds the dev, dev-single and cohort photos; a photo without one (no face found when the
    embeddings come through the detector) is left out, as the service would refuse it.
    """
    present = {name: [p for p in people[name] if p in embeddings] for name in people}
    dev = [name for name in split.dev if len(present[name]) >= 2]
    dev_pairs = build_pairs(present, dev, seed=seed)
    pair = fit_isotonic(pair_similarities(embeddings, dev_pairs), dev_pairs.labels)
    cohort = np.stack([embeddings[present[name][0]] for name in cohort_names(split, seed) if present[name]])
    strangers = [name for name in split.singles_dev if present[name]]
    open_set, report = fit_open_set(embeddings, present, dev, strangers, cohort, seed=seed)
    return Calibration(pair, open_set, cohort, report)
