"""Open-set answers: which enrolled *person* a face is, and P(that is right) — including "nobody I know".

A pair calibrator answers "are these two faces one person?". A user of the service asks something else: "is this face
one of my N enrolled people, and which one?". The answer depends on more than the best similarity: on the margin to
the next person (two people at 0.9 each means neither is sure), on how many people are enrolled (the more there are,
the higher the best stranger's score), on how many photos the named person has, and on how similar the face, and the
named person, are to everybody (some faces and some people look like many others: a cohort of faces of nobody in the
gallery measures both sides).

:class:`OpenSetCalibrator` holds the fitted map from that evidence to P(the best person is the right one); it is
fitted on dev simulations by :func:`facerec.train.openset.fit_open_set` and applied here with numpy alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# how a person's faces make their score; the flow's fit chooses one on dev. The centroid needs every face of each
# candidate, not only those a search found: the recognizer asks the index for them (FaceIndex.person_vectors)
AGGREGATES = ("max", "top2", "centroid")
# the evidence, in column order. ``gallery_z`` (since 2026-12-05) is the other side of the cohort normalisation: the
# person's score against how much *that person's* centroid resembles the cohort, since some enrolled people look like
# many strangers (hubs) and score high against any of them. A calibrator reads the columns its ``features`` name, so
# bundles fitted on the first five answer as they did
FEATURES = ("top", "margin", "cohort_z", "log_gallery", "photos", "gallery_z")


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
    was found). (``centroid`` needs all of each person's faces, not only those found: :func:`centroid_people`.)
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


def centroid_people(query: np.ndarray, faces: Mapping[str, np.ndarray], limit: int | None = None) -> list[PersonScore]:
    """People scored by the cosine between ``query`` and the normalised mean of all their faces (``faces``: a
    person's face vectors, one per row), best first; with one face each this is the ``max`` aggregate."""
    if not faces:
        return []
    names = list(faces)
    scores = centroid_scores(np.asarray(query, np.float64), np.stack([faces[n].mean(axis=0) for n in names]))
    scored = [PersonScore(n, float(s), len(faces[n])) for n, s in zip(names, scores, strict=True)]
    scored.sort(key=lambda p: (-p.score, p.name))
    return scored[:limit] if limit else scored


def cohort_statistics(queries: np.ndarray, cohort: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each query's ``top`` highest similarities to a cohort of faces of nobody enrolled
    (adaptive score normalisation: a face that resembles many strangers gets a high mean)."""
    sims = np.asarray(queries, np.float32) @ np.asarray(cohort, np.float32).T
    top = min(top, sims.shape[1])
    best = -np.partition(-sims, top - 1, axis=1)[:, :top]
    return best.mean(axis=1), np.maximum(best.std(axis=1), 1e-3)


def normalised_centroids(faces: Sequence[np.ndarray]) -> np.ndarray:
    """Each person's faces (one row each) -> the unit-length mean, one row per person."""
    sums = np.stack([np.asarray(f, np.float64).reshape(-1, np.shape(f)[-1]).sum(axis=0) for f in faces])
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def evidence(
    top: np.ndarray,
    second: np.ndarray,
    cohort_mean: np.ndarray,
    cohort_std: np.ndarray,
    gallery: int,
    photos: np.ndarray,
    person_mean: np.ndarray,
    person_std: np.ndarray,
) -> np.ndarray:
    """The features (rows) :class:`OpenSetCalibrator` maps to a probability, in :data:`FEATURES` order.

    ``second`` is the second person's score (-1 when the gallery holds one person); ``cohort_mean`` / ``cohort_std``
    the face's :func:`cohort_statistics`, ``person_mean`` / ``person_std`` those of the named person's normalised
    centroid; ``gallery`` the number of enrolled people; ``photos`` the named person's number of enrolled faces.
    """
    top = np.asarray(top, np.float64)
    return np.column_stack(
        [
            top,
            top - np.asarray(second, np.float64),
            (top - np.asarray(cohort_mean, np.float64)) / np.asarray(cohort_std, np.float64),
            np.full(len(top), np.log(max(gallery, 1))),
            np.log(np.asarray(photos, np.float64)),
            (top - np.asarray(person_mean, np.float64)) / np.asarray(person_std, np.float64),
        ]
    )


@dataclass
class LogisticIsotonic:
    """One fitted map from evidence to a probability: a logistic model over standardised features, then an isotonic
    map of its output (so the probabilities hold, not just the ranking)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    iso_x: np.ndarray
    iso_y: np.ndarray

    def __call__(self, features: np.ndarray) -> np.ndarray:
        logit = ((np.atleast_2d(features) - self.mean) / self.scale) @ self.coef + self.intercept
        return np.clip(np.interp(logit, self.iso_x, self.iso_y), 0.0, 1.0)

    def to_dict(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "iso_x": self.iso_x.tolist(),
            "iso_y": self.iso_y.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LogisticIsotonic:
        return cls(
            mean=np.array(data["mean"], np.float64),
            scale=np.array(data["scale"], np.float64),
            coef=np.array(data["coef"], np.float64),
            intercept=float(data["intercept"]),
            iso_x=np.array(data["iso_x"], np.float64),
            iso_y=np.array(data["iso_y"], np.float64),
        )


def shift_prior(probability: np.ndarray, share_from: float, share_to: float) -> np.ndarray:
    """P(enrolled) learned where ``share_from`` of the probes were strangers, restated for ``share_to``: Bayes' rule
    moves the odds by the ratio of the prior odds (the evidence's likelihood under each hypothesis is unchanged)."""
    p = np.clip(np.asarray(probability, np.float64), 1e-6, 1 - 1e-6)
    odds = p / (1 - p) * ((1 - share_to) / share_to) / ((1 - share_from) / share_from)
    return odds / (1 + odds)


@dataclass
class OpenSetCalibrator:
    """P(the best person is the right one | evidence), fitted on dev simulations.

    Bundles since 2026-12-03 carry it in two parts: P(the face's person is enrolled at all) and P(the best person is
    the right one | enrolled). Their product is the answer, and the first part alone depends on how many of the faces
    asked about are strangers: fitted at the simulations' share (``stranger_share``), it is restated for the share a
    deployment states (``__call__(features, stranger_share)``) by Bayes' rule. A single map fitted on the same
    simulations (``joint``) answers where the parts are missing (older bundles), and cannot be restated.
    """

    joint: LogisticIsotonic
    known: LogisticIsotonic | None = None
    right_if_known: LogisticIsotonic | None = None
    stranger_share: float | None = None  # the share of strangers among the simulations' probes the parts saw
    aggregate: str = "max"
    cohort_top: int = 50
    threshold: float = 0.5  # the default: P needed to name a face, chosen on dev for ``fpir_target``
    fpir_target: float = 0.01
    features: tuple[str, ...] = FEATURES

    def __post_init__(self) -> None:
        self.features = tuple(self.features)
        if not set(self.features) <= set(FEATURES):
            raise ValueError(f"unknown evidence {sorted(set(self.features) - set(FEATURES))}; known: {FEATURES}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if len(self.joint.coef) != len(self.features):
            raise ValueError(f"{len(self.joint.coef)} coefficients for {len(self.features)} features")
        if (self.known is None) != (self.right_if_known is None) or (
            self.known is not None and not 0.0 < (self.stranger_share or 0.0) < 1.0
        ):
            raise ValueError("the two parts come together, with the stranger share they were fitted at")

    @property
    def needs_person_vectors(self) -> bool:
        """Whether answering needs every face of each candidate, not only the faces a search found: for the centroid
        person score, and for the person's side of the cohort normalisation (``gallery_z``)."""
        return self.aggregate == "centroid" or "gallery_z" in self.features

    @property
    def restatable(self) -> bool:
        """Whether a stated share of strangers can change the answer (the two-part calibrator)."""
        return self.known is not None

    def __call__(self, features: np.ndarray, stranger_share: float | None = None) -> np.ndarray:
        """P(the named person is right) for rows of :func:`evidence` (all of :data:`FEATURES`; the calibrator reads
        the columns it was fitted on)."""
        features = np.atleast_2d(features)[:, [FEATURES.index(f) for f in self.features]]
        if self.known is None or self.right_if_known is None or self.stranger_share is None:
            return self.joint(features)
        enrolled = self.known(features)
        if stranger_share is not None:
            enrolled = shift_prior(enrolled, self.stranger_share, stranger_share)
        return np.clip(enrolled * self.right_if_known(features), 0.0, 1.0)

    def to_dict(self) -> dict:
        data = {
            "features": list(self.features),
            **self.joint.to_dict(),
            "aggregate": self.aggregate,
            "cohort_top": self.cohort_top,
            "threshold": self.threshold,
            "fpir_target": self.fpir_target,
        }
        if self.known is not None and self.right_if_known is not None:
            data |= {
                "known": self.known.to_dict(),
                "right_if_known": self.right_if_known.to_dict(),
                "stranger_share": self.stranger_share,
            }
        return data

    @classmethod
    def from_dict(cls, data: dict) -> OpenSetCalibrator:
        """Reads both layouts: the joint map's fields at the top level (all bundles), the two parts where present."""
        return cls(
            joint=LogisticIsotonic.from_dict(data),
            known=LogisticIsotonic.from_dict(data["known"]) if "known" in data else None,
            right_if_known=LogisticIsotonic.from_dict(data["right_if_known"]) if "right_if_known" in data else None,
            stranger_share=data.get("stranger_share"),
            aggregate=str(data["aggregate"]),
            cohort_top=int(data["cohort_top"]),
            threshold=float(data["threshold"]),
            fpir_target=float(data["fpir_target"]),
            features=tuple(data["features"]),
        )
