"""Fitting the calibrators a bundle carries (serving only applies them: :mod:`facerec.model.calibration`)."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

from ..model.calibration import IsotonicCalibrator


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
    """Cosine similarity -> P(same person), by isotonic regression on labelled pairs."""
    model = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64))
    return IsotonicCalibrator(model.X_thresholds_, model.y_thresholds_)
