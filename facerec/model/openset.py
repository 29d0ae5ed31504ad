"""Open-set answers: which enrolled *person* a face is, and P(that is right) — including "nobody I know".

A pair calibrator answers "are these two faces one person?". A user of the service asks something else: "is this face
one of my N enrolled people, and which one?". The answer depends on more than the best similarity: on the margin to
the next person (two people at 0.9 each means neither is sure), on how many people are enrolled (the more there are,
the higher the best stranger's score), on how many photos the named person has, and on how similar the face is to
everybody (some faces look like many people: a cohort of faces of nobody in the gallery measures that).

:class:`OpenSetCalibrator` holds the fitted map from that evidence to P(the best person is the right one); it is
fitted on dev simulations by :func:`facerec.train.openset.fit_open_set` and applied here with numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

AGGREGATES = ("max", "top2", "centroid")
# what a search result alone can give: the centroid needs every face vector of every candidate, which the index
# does not return, so it is measured (facerec.train.openset) but not served
SERVED_AGGREGATES = ("max", "top2")
FEATURES = ("top", "margin", "cohort_z", "log_gallery", "photos")


@dataclass(frozen=True)
class PersonScore:
    name: str
    score: float  # the person's aggregated cosine similarity
    faces: int  # the person's enrolled faces that were among the search results


def person_scores(
    matches: Sequence[tuple[str, float]], aggregate: str = "max", limit: int | None = None
) -> list[PersonScore]:
    """Face matches (name, cosine) -> distinct people, best first.

    ``max``: a person's best face; ``top2``: the mean of their two best faces (their best face alone when only one
    was found). (``centroid`` is scored from the people's mean embeddings, see :func:`centroid_scores`.)
    """
    by_person: dict[str, list[float]] = {}
    for name, similarity in matches:
        by_person.setdefault(name, []).append(float(similarity))
    scored = []
    for name, sims in by_person.items():
        sims.sort(reverse=True)
        score = sims[0] if aggregate == "max" or len(sims) == 1 else float(np.mean(sims[:2]))
        scored.append(PersonScore(name, score, len(sims)))
    scored.sort(key=lambda p: (-p.score, p.name))
    return scored[:limit] if limit else scored


def centroid_scores(query: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Cosine between ``query`` and each person's normalised mean embedding."""
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    return (centroids / np.maximum(norms, 1e-12)) @ query


def cohort_statistics(queries: np.ndarray, cohort: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each query's ``top`` highest similarities to a cohort of faces of nobody enrolled
    (adaptive score normalisation: a face that resembles many strangers gets a high mean)."""
    sims = np.asarray(queries, np.float32) @ np.asarray(cohort, np.float32).T
    top = min(top, sims.shape[1])
    best = -np.partition(-sims, top - 1, axis=1)[:, :top]
    return best.mean(axis=1), np.maximum(best.std(axis=1), 1e-3)


def evidence(
    top: np.ndarray,
    second: np.ndarray,
    cohort_mean: np.ndarray,
    cohort_std: np.ndarray,
    gallery: int,
    photos: np.ndarray,
) -> np.ndarray:
    """The features (rows) :class:`OpenSetCalibrator` maps to a probability, in :data:`FEATURES` order.

    ``second`` is the second person's score (-1 when the gallery holds one person); ``gallery`` the number of
    enrolled people; ``photos`` the named person's number of enrolled faces.
    """
    top = np.asarray(top, np.float64)
    return np.column_stack(
        [
            top,
            top - np.asarray(second, np.float64),
            (top - np.asarray(cohort_mean, np.float64)) / np.asarray(cohort_std, np.float64),
            np.full(len(top), np.log(max(gallery, 1))),
            np.log(np.asarray(photos, np.float64)),
        ]
    )


@dataclass
class OpenSetCalibrator:
    """P(the best person is the right one | evidence): a logistic model over :func:`evidence`, then an isotonic map of
    its output fitted on the same dev simulations (so the probabilities hold, not just the ranking)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    iso_x: np.ndarray
    iso_y: np.ndarray
    aggregate: str = "max"
    cohort_top: int = 50
    threshold: float = 0.5  # the default: P needed to name a face, chosen on dev for ``fpir_target``
    fpir_target: float = 0.01
    features: tuple[str, ...] = FEATURES

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if len(self.coef) != len(self.features):
            raise ValueError(f"{len(self.coef)} coefficients for {len(self.features)} features")

    def __call__(self, features: np.ndarray) -> np.ndarray:
        logit = ((np.atleast_2d(features) - self.mean) / self.scale) @ self.coef + self.intercept
        return np.clip(np.interp(logit, self.iso_x, self.iso_y), 0.0, 1.0)

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "iso_x": self.iso_x.tolist(),
            "iso_y": self.iso_y.tolist(),
            "aggregate": self.aggregate,
            "cohort_top": self.cohort_top,
            "threshold": self.threshold,
            "fpir_target": self.fpir_target,
        }

    @classmethod
    def from_dict(cls, data: dict) -> OpenSetCalibrator:
        return cls(
            mean=np.array(data["mean"], np.float64),
            scale=np.array(data["scale"], np.float64),
            coef=np.array(data["coef"], np.float64),
            intercept=float(data["intercept"]),
            iso_x=np.array(data["iso_x"], np.float64),
            iso_y=np.array(data["iso_y"], np.float64),
            aggregate=str(data["aggregate"]),
            cohort_top=int(data["cohort_top"]),
            threshold=float(data["threshold"]),
            fpir_target=float(data["fpir_target"]),
            features=tuple(data["features"]),
        )
