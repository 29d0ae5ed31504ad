"""Open-set identification: the protocol, its metrics, and fitting the calibrator the bundle carries.

A *gallery* enrols some people with 1-3 photos each; *probes* are their other photos (known) and photos of people
who are not enrolled (strangers). A rule names each probe's best person or says "unknown". In the style of NIST FRVT
1:N: FPIR = share of strangers named (as anyone), FNIR = share of known probes not named correctly (named wrongly,
or not named), both along the rule's threshold; rank-1 = share of known probes whose best person is right.

Two rules are compared on the same galleries: ``pair`` (today's: the best single face, pair calibrator) and
``open_set`` (people, not faces: the best person by an aggregate of their faces, and the open-set calibrator's
P(right) from the evidence of :func:`facerec.model.openset.evidence`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ..model.calibration import IsotonicCalibrator
from ..model.openset import (
    AGGREGATES,
    FEATURES,
    LogisticIsotonic,
    OpenSetCalibrator,
    cohort_statistics,
    evidence,
    normalised_centroids,
)
from .metrics import (
    FPIR_LEVELS,
    ece_interval,
    ece_noise_floor,
    expected_calibration_error,
    fnir_at_fpir,
    reliability_curve,
    threshold_at_fpir,
)

TOP = FEATURES.index("top")  # the evidence column holding the best person's score

# probes in the dev simulations are up to 40% strangers (fewer where dev strangers run short): the calibrator records
# the share it saw, which its probabilities assume unless a deployment states its own (STRANGER_SHARE)
SIMULATED_STRANGER_SHARE = 0.4


@dataclass
class Gallery:
    """Enrolled faces (rows of ``vectors``, labelled with their person) and probes with their identity (None for a
    stranger)."""

    vectors: np.ndarray
    names: list[str]
    probes: np.ndarray
    probe_names: list[str | None]

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))


def build_gallery(
    embeddings: Mapping[str, np.ndarray],
    people: Mapping[str, Sequence[str]],
    names: Sequence[str],
    strangers: Sequence[str],
    photos: int,
    rng: np.random.RandomState | None = None,
) -> Gallery:
    """Enrol ``photos`` photos of each of ``names`` that has more (the first ones in file order, or a random choice
    with ``rng``); probes: their other photos and every photo of ``strangers``."""
    vectors, labels, probes, probe_names = [], [], [], []
    for name in names:
        paths = list(people[name])
        if len(paths) <= photos:
            continue
        if rng is not None:
            paths = [paths[i] for i in rng.permutation(len(paths))]
        for path in paths[:photos]:
            vectors.append(embeddings[path])
            labels.append(name)
        for path in paths[photos:]:
            probes.append(embeddings[path])
            probe_names.append(name)
    for name in strangers:
        for path in people[name]:
            probes.append(embeddings[path])
            probe_names.append(None)
    return Gallery(np.stack(vectors), labels, np.stack(probes), probe_names)


@dataclass
class Decisions:
    """Per probe: the best person, the score a threshold is applied to, and whether the best person is right.

    ``tiebreak`` (the best person's similarity) orders probes whose scores tie: isotonic calibrators map whole
    ranges of evidence to one probability, and thresholding those plateaus alone reaches only a few FPIRs, so the
    FNIR-at-FPIR figures and DET curves would measure the plateaus rather than the evidence."""

    best: list[str]
    score: np.ndarray
    correct: np.ndarray  # best person is the probe's identity (always False for strangers)
    known: np.ndarray
    tiebreak: np.ndarray | None = None
    identity: list[str | None] | None = None  # the probe's person (None: a stranger), for intervals over people

    def ranking(self) -> np.ndarray:
        """Every probe's position when sorted by score, then tiebreak: what a threshold on the score, ties broken
        by the similarity, can separate."""
        keys = (self.score,) if self.tiebreak is None else (self.tiebreak, self.score)
        ranks = np.empty(len(self.score))
        ranks[np.lexsort(keys)] = np.arange(len(self.score))
        return ranks

    def known_vs_unknown_auc(self) -> float | None:
        """How well the rule's answer tells enrolled people's photos from strangers' over every threshold: the AUC of
        the score (ties broken by the similarity, as :meth:`ranking`; a tie in both counts half). For the pair rule
        with one photo per person this is the encoder's known-vs-unknown AUC on that gallery (the flow's metric);
        for the open-set rule it is how far the served answer moves it."""
        if self.known.all() or not self.known.any():
            return None
        keys = np.column_stack([self.score, self.score if self.tiebreak is None else self.tiebreak])
        _, order = np.unique(keys, axis=0, return_inverse=True)  # lexicographic: the score first
        return float(roc_auc_score(self.known, order.ravel()))

    def groups(self) -> list[str] | None:
        """Who each probe is (each stranger a group of their own): the unit a bootstrap over people resamples."""
        if self.identity is None:
            return None
        return [name if name is not None else f"stranger {i}" for i, name in enumerate(self.identity)]


def gallery_centroids(gallery: Gallery) -> np.ndarray:
    """Each enrolled person's normalised centroid, in :attr:`Gallery.people` order."""
    names = np.asarray(gallery.names)
    return normalised_centroids([gallery.vectors[names == name] for name in gallery.people])


def person_matrix(
    gallery: Gallery, aggregate: str, centroids: np.ndarray | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Probe x person scores by ``aggregate`` (max, top2, centroid), the people, and each person's photo count;
    ``centroids``: :func:`gallery_centroids` where the caller has them already."""
    people = gallery.people
    index = {name: i for i, name in enumerate(people)}
    columns = np.array([index[n] for n in gallery.names])
    counts = np.bincount(columns, minlength=len(people))
    if aggregate == "centroid":
        centroids = gallery_centroids(gallery) if centroids is None else centroids
        return gallery.probes @ centroids.T, people, counts
    sims = gallery.probes @ gallery.vectors.T
    scores = np.full((len(gallery.probes), len(people)), -np.inf)
    if aggregate == "max":
        for j in range(len(people)):
            scores[:, j] = sims[:, columns == j].max(axis=1)
        return scores, people, counts
    for j in range(len(people)):  # top2: the mean of a person's two best faces (their one face when alone)
        own = np.sort(sims[:, columns == j], axis=1)[:, ::-1]
        scores[:, j] = own[:, :2].mean(axis=1)
    return scores, people, counts


def open_set_evidence(gallery: Gallery, aggregate: str, cohort: np.ndarray, cohort_top: int):
    """(features of :func:`evidence` per probe, best person per probe, correct per probe)."""
    centroids = gallery_centroids(gallery)  # the person's side of the evidence, and the centroid scores
    scores, people, counts = person_matrix(gallery, aggregate, centroids)
    order = np.argsort(-scores, axis=1)
    rows = np.arange(len(scores))
    top = scores[rows, order[:, 0]]
    second = scores[rows, order[:, 1]] if scores.shape[1] > 1 else np.full(len(scores), -1.0)
    mean, std = cohort_statistics(gallery.probes, cohort, cohort_top)
    person_mean, person_std = cohort_statistics(centroids, cohort, cohort_top)
    best = [people[j] for j in order[:, 0]]
    features = evidence(
        top, second, mean, std, len(people), counts[order[:, 0]], person_mean[order[:, 0]], person_std[order[:, 0]]
    )
    correct = np.array([b == n for b, n in zip(best, gallery.probe_names, strict=True)])
    return features, best, correct


def pair_rule(gallery: Gallery, pair_calibrator: IsotonicCalibrator) -> Decisions:
    """Today's rule: the best single face names the probe; its pair-calibrated probability is the score."""
    sims = gallery.probes @ gallery.vectors.T
    top = sims.argmax(axis=1)
    best = [gallery.names[j] for j in top]
    known = np.array([n is not None for n in gallery.probe_names])
    correct = np.array([b == n for b, n in zip(best, gallery.probe_names, strict=True)])
    similarity = sims[np.arange(len(sims)), top]
    return Decisions(
        best, pair_calibrator(similarity), correct, known, tiebreak=similarity, identity=list(gallery.probe_names)
    )


def open_set_rule(
    gallery: Gallery, calibrator: OpenSetCalibrator, cohort: np.ndarray, stranger_share: float | None = None
) -> Decisions:
    """The served rule on a gallery; ``stranger_share``: the share of strangers the calibrator is told to expect
    (None: the share it was fitted at)."""
    features, best, correct = open_set_evidence(gallery, calibrator.aggregate, cohort, calibrator.cohort_top)
    known = np.array([n is not None for n in gallery.probe_names])
    score = calibrator(features, stranger_share)
    return Decisions(best, score, correct, known, tiebreak=features[:, TOP], identity=list(gallery.probe_names))


def answers_at(decisions: Decisions, threshold: float) -> dict[str, float]:
    """What the rule does at ``threshold``: shares of strangers named, and of known probes named right and wrong."""
    named, known = decisions.score >= threshold, decisions.known
    return {
        "strangers_named": float(named[~known].mean()),
        "known_named_correctly": float((named & decisions.correct)[known].mean()),
        "known_named_wrongly": float((named & ~decisions.correct)[known].mean()),
    }


def identification_report(decisions: Decisions, threshold: float) -> dict:
    """FRVT-style figures of one rule on one gallery, plus what it does at ``threshold`` and how well its
    probability is calibrated (open-set ECE: P against "named the right person")."""
    known, unknown = decisions.known, ~decisions.known
    ranks = decisions.ranking()
    report: dict = {
        "known_probes": int(known.sum()),
        "strangers": int(unknown.sum()),
        "rank1": float(decisions.correct[known].mean()),
        "known_vs_unknown_auc": decisions.known_vs_unknown_auc(),
    }
    for level in FPIR_LEVELS:
        fnir, _ = fnir_at_fpir(ranks[known], decisions.correct[known], ranks[unknown], level)
        report[f"fnir_at_fpir_{level:g}"] = fnir
    report |= {
        # where the calibration error sits: P against the share right, for known probes and for strangers apart
        # (a stranger's answer is never right, so all of its P is over-confidence)
        "mean_probability_known": float(decisions.score[known].mean()) if known.any() else None,
        "mean_probability_strangers": float(decisions.score[unknown].mean()) if unknown.any() else None,
        "threshold": threshold,
        **answers_at(decisions, threshold),
        "ece_15_bins": expected_calibration_error(decisions.score, decisions.correct, 15),
        # what a perfectly calibrated answer would score on this many probes: the ECE's own noise
        "ece_noise_floor": ece_noise_floor(decisions.score, 15),
        "reliability": reliability_curve(decisions.score, decisions.correct, 15),
    }
    groups = decisions.groups()
    if groups is not None:  # how far the ECE of another set of people could lie
        report["ece_interval"] = ece_interval(decisions.score, decisions.correct, groups, 15)
    return report


def det_curve(decisions: Decisions, points: int = 60) -> dict[str, list[float]]:
    """FNIR against FPIR along the threshold, for a DET plot (log axes)."""
    known, unknown = decisions.known, ~decisions.known
    ranks = decisions.ranking()
    levels = np.unique(np.concatenate([np.geomspace(1 / max(unknown.sum(), 1), 1.0, points), [1.0]]))
    fnirs = [fnir_at_fpir(ranks[known], decisions.correct[known], ranks[unknown], f)[0] for f in levels]
    return {"fpir": levels.tolist(), "fnir": fnirs}


def simulated_galleries(
    embeddings: Mapping[str, np.ndarray],
    people: Mapping[str, Sequence[str]],
    names: Sequence[str],
    singles: Sequence[str],
    rounds: int = 24,
    seed: int = 0,
) -> Iterator[tuple[int, Gallery]]:
    """The dev simulations' galleries, ``(round, gallery)``: sizes cycling through 10-1000 people (as many as
    ``names`` holds), 1-3 photos per person by round; strangers from ``singles`` (the dev strangers, as the test
    protocol's strangers are test singles), subsampled to :data:`SIMULATED_STRANGER_SHARE` of the probes where there
    are enough.

    The dev people a round leaves out are not used as strangers: a non-enrolled person with 100 photos would be 100
    correlated strangers, and the calibrator would learn that population instead of the one it is measured on."""
    rng = np.random.RandomState(seed)
    sizes = [s for s in (10, 30, 100, 300, 1000) if s <= len(names)] or [len(names)]
    for r in range(rounds):
        photos = 1 + r % 3
        eligible = [n for n in names if len(people[n]) > photos]
        size = min(sizes[r % len(sizes)], len(eligible))
        enrolled = sorted(rng.choice(eligible, size, replace=False).tolist())
        gallery = build_gallery(embeddings, people, enrolled, list(singles), photos, rng)
        known = np.array([n is not None for n in gallery.probe_names])
        wanted = int(known.sum() * SIMULATED_STRANGER_SHARE / (1 - SIMULATED_STRANGER_SHARE))
        strangers = np.flatnonzero(~known)
        keep = np.concatenate([np.flatnonzero(known), rng.choice(strangers, min(wanted, len(strangers)), False)])
        yield r, Gallery(gallery.vectors, gallery.names, gallery.probes[keep], [gallery.probe_names[i] for i in keep])


def simulate(
    embeddings: Mapping[str, np.ndarray],
    people: Mapping[str, Sequence[str]],
    names: Sequence[str],
    singles: Sequence[str],
    cohort: np.ndarray,
    aggregate: str,
    cohort_top: int = 50,
    rounds: int = 24,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The evidence of :func:`simulated_galleries`' probes. Returns per probe: features, correct (the best person is
    right), known (the probe's person is enrolled) and the round."""
    rows, labels, knowns, groups = [], [], [], []
    for r, gallery in simulated_galleries(embeddings, people, names, singles, rounds, seed):
        features, _, correct = open_set_evidence(gallery, aggregate, cohort, cohort_top)
        rows.append(features)
        labels.append(correct)
        knowns.append(np.array([n is not None for n in gallery.probe_names]))
        groups.append(np.full(len(correct), r))
    return np.concatenate(rows), np.concatenate(labels), np.concatenate(knowns), np.concatenate(groups)


def _fit_map(features: np.ndarray, labels: np.ndarray) -> LogisticIsotonic:
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    if labels.all() or not labels.any():  # a toy dev part (smoke runs): one class only, a constant answer
        rate = float(labels.mean())
        return LogisticIsotonic(mean, scale, np.zeros(features.shape[1]), 0.0, np.array([0.0]), np.array([rate]))
    model = LogisticRegression(C=1.0, max_iter=1000).fit((features - mean) / scale, labels)
    logit = ((features - mean) / scale) @ model.coef_[0] + model.intercept_[0]
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(logit, labels)
    return LogisticIsotonic(
        mean, scale, model.coef_[0], float(model.intercept_[0]), iso.X_thresholds_, iso.y_thresholds_
    )


def _fit(
    features: np.ndarray, correct: np.ndarray, known: np.ndarray, aggregate: str, cohort_top: int
) -> OpenSetCalibrator:
    """The joint map and the two parts (P(enrolled), P(right | enrolled)) on the same simulated probes; the parts
    only where the simulations hold both known probes and strangers."""
    joint = _fit_map(features, correct)
    share = float(1.0 - known.mean())
    if not 0.0 < share < 1.0:
        return OpenSetCalibrator(joint, aggregate=aggregate, cohort_top=cohort_top)
    return OpenSetCalibrator(
        joint,
        known=_fit_map(features, known),
        right_if_known=_fit_map(features[known], correct[known]),
        stranger_share=share,
        aggregate=aggregate,
        cohort_top=cohort_top,
    )


def fit_open_set(
    embeddings: Mapping[str, np.ndarray],
    people: Mapping[str, Sequence[str]],
    dev_names: Sequence[str],
    dev_singles: Sequence[str],
    cohort: np.ndarray,
    fpir_target: float = 0.01,
    cohort_top: int = 50,
    seed: int = 0,
) -> tuple[OpenSetCalibrator, dict]:
    """Fit the open-set calibrator on dev simulations; the aggregate (max / top2 / centroid) is the one with the
    best detection rate at FPIR 0.05 on held-out rounds. The default threshold is the lowest P at which dev
    strangers are named at most ``fpir_target`` of the time. Returns the calibrator and a report of the choice."""
    choice = {}
    for aggregate in AGGREGATES:
        features, correct, known, rounds = simulate(
            embeddings, people, dev_names, dev_singles, cohort, aggregate, cohort_top, seed=seed
        )
        test = rounds % 2 == 1  # fit on even rounds, compare on odd ones
        model = _fit(features[~test], correct[~test], known[~test], aggregate, cohort_top)
        held_out = Decisions([], model(features[test]), correct[test], known[test], features[test][:, TOP])
        ranks, kept = held_out.ranking(), known[test]
        fnir, _ = fnir_at_fpir(ranks[kept], correct[test][kept], ranks[~kept], 0.05)
        choice[aggregate] = {"held_out_fnir_at_fpir_0.05": fnir, "held_out_probes": int(test.sum())}
    best = min(AGGREGATES, key=lambda a: choice[a]["held_out_fnir_at_fpir_0.05"])
    features, correct, known, _ = simulate(
        embeddings, people, dev_names, dev_singles, cohort, best, cohort_top, seed=seed
    )
    calibrator = _fit(features, correct, known, best, cohort_top)
    # the default threshold: dev strangers named at most fpir_target of the time, on a fresh dev simulation
    check, _, check_known, _ = simulate(
        embeddings, people, dev_names, dev_singles, cohort, best, cohort_top, seed=seed + 1
    )
    threshold = threshold_at_fpir(calibrator(check[~check_known]), fpir_target)
    calibrator.threshold = min(max(threshold, 0.0), 1.0)
    calibrator.fpir_target = fpir_target
    report = {
        "aggregates": choice,
        "chosen": best,
        "dev_probes": len(correct),
        "threshold": calibrator.threshold,
        "stranger_share": calibrator.stranger_share,  # what the probabilities assume unless told (STRANGER_SHARE)
    }
    return calibrator, report


def evaluate_open_set(
    embeddings: Mapping[str, np.ndarray],
    people: Mapping[str, Sequence[str]],
    names: Sequence[str],
    strangers: Sequence[str],
    pair_calibrator: IsotonicCalibrator,
    open_set: OpenSetCalibrator,
    cohort: np.ndarray,
    photos: Sequence[int] = (1, 2, 3),
    pair_threshold: float = 0.5,
) -> dict:
    """Both rules on the same galleries (each person with ``k`` enrolled photos where they have more), each at its
    own default threshold. Returns ``{"1_photos": {"pair": report, "open_set": report}, ...}`` with DET curves."""
    results = {}
    for k in photos:
        gallery = build_gallery(embeddings, people, names, strangers, k)
        rules = {"pair": pair_rule(gallery, pair_calibrator), "open_set": open_set_rule(gallery, open_set, cohort)}
        thresholds = {"pair": pair_threshold, "open_set": open_set.threshold}
        results[f"{k}_photos"] = {
            "people": len(gallery.people),
            **{name: identification_report(d, thresholds[name]) | {"det": det_curve(d)} for name, d in rules.items()},
        }
    return results
