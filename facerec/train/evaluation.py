"""The evaluation protocol: verification pairs and open-set identification on people the encoder never saw."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations, islice

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ..model.calibration import IsotonicCalibrator
from ..model.encoder import FaceEncoder
from ..model.preprocess import PreprocessConfig, load_rgb, preprocess_views
from ..model.runtime import RuntimeName, create_runtime
from .metrics import (
    best_threshold,
    brier_score,
    expected_calibration_error,
    open_set_metrics,
    reliability_curve,
    verification_metrics,
)


@dataclass
class PairSet:
    """Image pairs with labels (True = same person)."""

    pairs: list[tuple[str, str]]
    labels: np.ndarray

    @property
    def paths(self) -> list[str]:
        return sorted({p for pair in self.pairs for p in pair})


def positive_pairs(
    people: dict[str, list[str]], names: Iterable[str], max_per_person: int = 20
) -> list[tuple[str, str]]:
    """All image pairs within each person, at most ``max_per_person`` (the first in sorted file-name order)."""
    pairs: list[tuple[str, str]] = []
    for name in sorted(names):
        pairs += islice(combinations(sorted(people[name]), 2), max_per_person)
    return pairs


def negative_pairs(
    people: dict[str, list[str]], names: Iterable[str], count: int, seed: int = 0
) -> list[tuple[str, str]]:
    """``count`` distinct pairs of images of two different people, drawn with ``RandomState(seed)``."""
    names = sorted(names)
    if len(names) < 2:
        raise ValueError("negative pairs need at least two people")
    rng = np.random.RandomState(seed)
    seen: set[tuple[str, str]] = set()
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        a, b = rng.choice(len(names), size=2, replace=False)
        pa = people[names[a]][rng.randint(len(people[names[a]]))]
        pb = people[names[b]][rng.randint(len(people[names[b]]))]
        key = (min(pa, pb), max(pa, pb))
        if key not in seen:
            seen.add(key)
            pairs.append((pa, pb))
    return pairs


def build_pairs(
    people: dict[str, list[str]], names: list[str], max_positive_per_person: int = 20, seed: int = 0
) -> PairSet:
    positives = positive_pairs(people, names, max_positive_per_person)
    negatives = negative_pairs(people, names, len(positives), seed)
    labels = np.array([True] * len(positives) + [False] * len(negatives))
    return PairSet(positives + negatives, labels)


def embed_paths(
    encoder: FaceEncoder,
    preprocess_config: PreprocessConfig,
    paths: list[str],
    batch_size: int = 64,
    flip_tta: bool | None = None,
    runtime: RuntimeName = "onnx",
) -> dict[str, np.ndarray]:
    """Embed image files (face crops) through the serving preprocessing path (every test input size) and, by default,
    the served runtime.

    ONNX Runtime embeds faster than eager torch on a CPU, enough to pay for its export (about a second) at every dev
    evaluation (the flow's evaluate step: docs/experiments.md); the export is checked against torch
    (:func:`create_runtime`), so the figures are the served graph's. On a GPU the encoder runs as it is.
    """
    embeddings: dict[str, np.ndarray] = {}
    if not paths:
        return embeddings
    device = next(encoder.parameters()).device
    name = runtime if device.type == "cpu" else "torch"
    engine = create_runtime(
        encoder, preprocess_config.eval_image_sizes, name, threads=torch.get_num_threads(), flip_tta=flip_tta
    )
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        views = [view.to(device) for view in preprocess_views([load_rgb(p) for p in chunk], preprocess_config)]
        embeddings.update(zip(chunk, engine.embed_views(views), strict=True))
    return embeddings


def pair_similarities(embeddings: dict[str, np.ndarray], pair_set: PairSet) -> np.ndarray:
    a = np.stack([embeddings[p] for p, _ in pair_set.pairs])
    b = np.stack([embeddings[q] for _, q in pair_set.pairs])
    return np.sum(a * b, axis=1)


def open_set_protocol(
    people: dict[str, list[str]],
    names: list[str],
    unknown_names: list[str],
    rng: np.random.RandomState | None = None,
) -> tuple[list[str], list[str], list[str], list[str | None]]:
    """Gallery = first image of each person (or a random one, with ``rng``); probes = their other images, plus every
    image of ``unknown_names``."""
    gallery_paths, gallery_labels, probe_paths, probe_labels = [], [], [], []
    for name in sorted(names):
        photos = sorted(people[name])
        enrolled = photos.pop(0 if rng is None else rng.randint(len(photos)))
        gallery_paths.append(enrolled)
        gallery_labels.append(name)
        probe_paths += photos
        probe_labels += [name] * len(photos)
    for name in sorted(unknown_names):
        probe_paths += sorted(people[name])
        probe_labels += [None] * len(people[name])
    return gallery_paths, gallery_labels, probe_paths, probe_labels


def identification_metrics(
    embeddings: dict[str, np.ndarray],
    gallery_paths: list[str],
    gallery_labels: list[str],
    probe_paths: list[str],
    probe_labels: list[str | None],
) -> dict:
    """Open-set metrics of :func:`open_set_protocol`'s gallery and probes, from embeddings by path."""
    return open_set_metrics(
        np.stack([embeddings[p] for p in gallery_paths]),
        gallery_labels,
        np.stack([embeddings[p] for p in probe_paths]),
        probe_labels,
    )


@dataclass
class DevProtocol:
    """What model selection measures at every evaluation, on dev people only: verification pairs, and open-set
    identification with dev strangers among the probes, each dev person enrolled with one photo.

    With one gallery draw that photo is each person's first; with more, draws after the first enrol a seeded random
    photo and rank-1 and the detection rate are averaged over draws. Which photo a person is enrolled with moves a
    fixed model's detection rate by about 2 points (sd; bench/selection_noise.py), as much as a run's late
    evaluations differ from one another, so a single draw partly selects checkpoints for their luck with it.
    """

    pairs: PairSet
    galleries: list[tuple[list[str], list[str], list[str], list[str | None]]]

    @classmethod
    def build(
        cls,
        people: dict[str, list[str]],
        names: list[str],
        strangers: Iterable[str] = (),
        seed: int = 0,
        gallery_draws: int = 1,
    ) -> DevProtocol:
        if gallery_draws < 1:
            raise ValueError(f"gallery_draws must be >= 1, got {gallery_draws}")
        rng = np.random.RandomState(seed)
        strangers = list(strangers)
        galleries = [
            open_set_protocol(people, names, strangers, rng if draw else None) for draw in range(gallery_draws)
        ]
        return cls(build_pairs(people, names, seed=seed), galleries)

    @property
    def paths(self) -> list[str]:
        photos = {p for gallery, _, probes, _ in self.galleries for p in gallery + probes}
        return sorted(set(self.pairs.paths) | photos)

    def identification(self, embeddings: Mapping[str, np.ndarray]) -> dict:
        """Rank-1 and, with strangers, the detection rate at FPIR 0.05, each averaged over the gallery draws."""
        found = [
            identification_metrics(embeddings, *gallery)
            for gallery in self.galleries
            if gallery[0] and any(label is not None for label in gallery[3])
        ]
        metrics: dict[str, float] = {}
        if found:
            metrics["dev_rank1"] = float(np.mean([f["open_set_rank1"] for f in found]))
            if all("open_set_fnir_at_fpir_0.05" in f for f in found):
                metrics["dev_dir_at_fpir_0.05"] = float(np.mean([1 - f["open_set_fnir_at_fpir_0.05"] for f in found]))
        return metrics

    def measure(self, encoder: FaceEncoder, preprocess_config: PreprocessConfig, flip_tta: bool = False) -> dict:
        """Dev AUC and accuracy of the pairs; rank-1 and, with strangers, the detection rate at FPIR 0.05."""
        return self.scores(embed_paths(encoder, preprocess_config, self.paths, flip_tta=flip_tta))

    def scores(self, embeddings: Mapping[str, np.ndarray]) -> dict:
        """:meth:`measure`'s figures from embeddings made elsewhere (e.g. of the photos through the detector)."""
        similarities = pair_similarities(embeddings, self.pairs)
        return {
            "dev_auc": float(roc_auc_score(self.pairs.labels, similarities)),
            "dev_accuracy": best_threshold(similarities, self.pairs.labels)[1],
            **self.identification(embeddings),
        }


def evaluate_verification(
    encoder: FaceEncoder, preprocess_config: PreprocessConfig, pair_set: PairSet, flip_tta: bool | None = None
) -> np.ndarray:
    """Cosine similarity of every pair."""
    return pair_similarities(embed_paths(encoder, preprocess_config, pair_set.paths, flip_tta=flip_tta), pair_set)


def calibration_metrics(calibrator: IsotonicCalibrator, similarities: np.ndarray, labels: np.ndarray) -> dict:
    probabilities = calibrator(similarities)
    return {
        "ece_15_bins": expected_calibration_error(probabilities, labels, 15),
        "brier": brier_score(probabilities, labels),
        "reliability": reliability_curve(probabilities, labels, 15),
    }


def evaluate_test(
    embeddings: Mapping[str, np.ndarray],
    people: dict[str, list[str]],
    test_names: list[str],
    unknown_names: list[str],
    calibrator: IsotonicCalibrator | None = None,
    seed: int = 0,
) -> dict:
    """All test metrics from the embeddings of every image of ``test_names`` and ``unknown_names``: verification,
    identification with one gallery photo per person, and (given a calibrator) calibration."""
    pair_set = build_pairs(people, test_names, seed=seed)
    gallery_paths, gallery_labels, probe_paths, probe_labels = open_set_protocol(people, test_names, unknown_names)
    similarities = pair_similarities(embeddings, pair_set)
    metrics: dict = verification_metrics(similarities, pair_set.labels, seed=seed)
    metrics |= identification_metrics(embeddings, gallery_paths, gallery_labels, probe_paths, probe_labels)
    if calibrator is not None:
        metrics |= calibration_metrics(calibrator, similarities, pair_set.labels)
    return metrics
