"""Cosine similarity -> P(same person), by isotonic regression on pairs of people the encoder never trained on."""

from __future__ import annotations

import numpy as np


class IsotonicCalibrator:
    """A monotone piecewise-linear map stored as plain arrays (no pickle in the bundle).

    Equivalent to scikit-learn's ``IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0, y_max=1)``;
    fitted by :func:`facerec.train.calibrate.fit_isotonic`, so serving needs no scikit-learn.
    The pairs it is fitted on are balanced, so probabilities assume even prior odds of a match.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 1:
            raise ValueError("calibrator needs two 1-d arrays of equal, non-zero length")
        if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
            raise ValueError("calibrator points must be non-decreasing")
        if y.min() < 0 or y.max() > 1:
            raise ValueError("calibrated probabilities must lie in [0, 1]")
        self.x, self.y = x, y

    def __call__(self, scores: np.ndarray | float) -> np.ndarray:
        return np.clip(np.interp(np.asarray(scores, dtype=np.float64), self.x, self.y), 0.0, 1.0)

    def threshold_for(self, probability: float) -> float:
        """Smallest cosine similarity whose calibrated probability reaches ``probability`` (inf when none does)."""
        reached = np.nonzero(self.y >= probability)[0]
        return float(self.x[reached[0]]) if len(reached) else float("inf")

    def to_dict(self) -> dict[str, list[float]]:
        return {"x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> IsotonicCalibrator:
        return cls(np.array(data["x"]), np.array(data["y"]))
