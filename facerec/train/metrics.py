"""Verification, open-set identification and calibration metrics (pure numpy / scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Threshold maximising accuracy of ``score >= threshold`` -> same; returns (threshold, accuracy)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    # accepting the top i scores: true accepts among them + true rejects among the rest
    tp = np.concatenate([[0], np.cumsum(y)])
    tn = (~y).sum() - np.concatenate([[0], np.cumsum(~y)])
    correct = tp + tn
    # only cut between distinct scores
    valid = np.concatenate([[True], s[1:] != s[:-1], [True]])
    correct = np.where(valid, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        threshold = s[0] + 1e-6
    elif i == len(s):
        threshold = s[-1] - 1e-6
    else:
        threshold = (s[i - 1] + s[i]) / 2
    return float(threshold), float(correct[i] / len(s))


def kfold_verification_accuracy(
    scores: np.ndarray, labels: np.ndarray, n_folds: int = 10, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and std of accuracy over folds (each thresholded on the other folds), and the mean threshold."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    folds = np.array_split(np.random.RandomState(seed).permutation(len(scores)), min(n_folds, len(scores)))
    accuracies, thresholds = [], []
    for k, test_idx in enumerate(folds):
        train_idx = np.concatenate([f for j, f in enumerate(folds) if j != k])
        threshold, _ = best_threshold(scores[train_idx], labels[train_idx])
        accuracies.append(np.mean((scores[test_idx] >= threshold) == labels[test_idx]))
        thresholds.append(threshold)
    return float(np.mean(accuracies)), float(np.std(accuracies)), float(np.mean(thresholds))


def tar_at_far(scores: np.ndarray, labels: np.ndarray, far: float) -> float:
    """True accept rate at the most permissive threshold whose false accept rate is <= ``far``."""
    fpr, tpr, _ = roc_curve(np.asarray(labels, dtype=bool), scores)
    ok = fpr <= far
    return float(tpr[ok].max()) if ok.any() else 0.0


def verification_metrics(scores: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float]:
    accuracy, accuracy_std, threshold = kfold_verification_accuracy(scores, labels, seed=seed)
    return {
        "verification_accuracy": accuracy,
        "verification_accuracy_std": accuracy_std,
        "verification_threshold": threshold,
        "roc_auc": float(roc_auc_score(np.asarray(labels, dtype=bool), scores)),
        "tar_at_far_1e-3": tar_at_far(scores, labels, 1e-3),
        "tar_at_far_1e-2": tar_at_far(scores, labels, 1e-2),
        "n_positive_pairs": int(np.sum(labels)),
        "n_negative_pairs": int(len(labels) - np.sum(labels)),
    }


def threshold_at_fpir(unknown_scores: np.ndarray, fpir: float) -> float:
    """The lowest score threshold (a probe is named when its score reaches it) at which at most ``fpir`` of the
    unknown probes are named; -inf when every one of them may be."""
    unknown = np.sort(np.asarray(unknown_scores, dtype=np.float64))[::-1]
    allowed = int(np.floor(fpir * len(unknown) + 1e-9))
    return float(np.nextafter(unknown[allowed], np.inf)) if allowed < len(unknown) else -np.inf


def fnir_at_fpir(
    known_scores: np.ndarray, known_correct: np.ndarray, unknown_scores: np.ndarray, fpir: float
) -> tuple[float, float]:
    """NIST FRVT 1:N: the false negative identification rate at a false positive identification rate.

    A probe is named when its score reaches the threshold. FPIR = share of unknown probes named (as anyone); the
    threshold is the lowest one at which FPIR <= ``fpir``. FNIR = share of known probes not named correctly (named
    the wrong person, or not named). Returns (FNIR, threshold).
    """
    threshold = threshold_at_fpir(unknown_scores, fpir)
    named = np.asarray(known_correct, dtype=bool) & (np.asarray(known_scores, dtype=np.float64) >= threshold)
    return float(1 - named.mean()), threshold


FPIR_LEVELS = (0.01, 0.05, 0.1)


def open_set_metrics(
    gallery: np.ndarray, gallery_labels: list[str], probes: np.ndarray, probe_labels: list[str | None]
) -> dict[str, float]:
    """Rank-1 accuracy of known probes, AUC of the top-1 similarity separating known from unknown probes, and FNIR at
    FPIR 0.01 / 0.05 / 0.1 when the top-1 similarity is thresholded.

    The known-vs-unknown AUC is also split by whether a known probe's top-1 is the right person. AUC is a mean over
    known probes, so it is exactly ``rank1 * named_right + (1 - rank1) * named_wrong``: however well right matches
    stand out from strangers, the whole cannot pass ``rank1 + (1 - rank1) * named_wrong``. The split says whether
    the encoder's identification (rank-1) or its scores hold the figure back.

    ``probe_labels`` holds None for probes of people who are not in the gallery. Embeddings are L2-normalised.
    """
    similarities = probes @ gallery.T
    top1 = similarities.argmax(axis=1)
    top1_similarity = similarities[np.arange(len(probes)), top1]
    known = np.array([label is not None for label in probe_labels])
    hits = np.array([gallery_labels[j] == label for j, label in zip(top1, probe_labels, strict=True)])
    metrics = {
        "open_set_rank1": float(hits[known].mean()) if known.any() else float("nan"),
        "n_gallery": len(gallery_labels),
        "n_known_probes": int(known.sum()),
        "n_unknown_probes": int((~known).sum()),
    }
    if known.any() and (~known).any():
        metrics["open_set_known_vs_unknown_auc"] = float(roc_auc_score(known, top1_similarity))
        for part, probes_of_part in (("named_right", hits), ("named_wrong", known & ~hits)):
            chosen = probes_of_part | ~known
            if probes_of_part.any():
                metrics[f"open_set_known_vs_unknown_auc_{part}"] = float(
                    roc_auc_score(known[chosen], top1_similarity[chosen])
                )
        for level in FPIR_LEVELS:
            fnir, _ = fnir_at_fpir(top1_similarity[known], hits[known], top1_similarity[~known], level)
            metrics[f"open_set_fnir_at_fpir_{level:g}"] = fnir
    return metrics


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE with equal-width bins over [0, 1]: sum over bins of (bin share) * |accuracy - mean confidence|."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(y[in_bin].mean() - p[in_bin].mean())
    return float(ece)


def ece_noise_floor(probabilities: np.ndarray, n_bins: int = 15, draws: int = 200, seed: int = 0) -> dict[str, float]:
    """The ECE a perfectly calibrated model would show on these probabilities: outcomes drawn as Bernoulli(p), so
    every gap between confidence and frequency is sampling noise. Mean and 95th percentile over ``draws``; an
    observed ECE below the 95th percentile cannot be told from perfect calibration on this many answers."""
    p = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.RandomState(seed)
    eces = [expected_calibration_error(p, rng.random_sample(len(p)) < p, n_bins) for _ in range(draws)]
    return {"mean": float(np.mean(eces)), "p95": float(np.percentile(eces, 95))}


def ece_interval(
    probabilities: np.ndarray,
    labels: np.ndarray,
    groups: Sequence[object],
    n_bins: int = 15,
    draws: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """A 95% bootstrap interval of the ECE that resamples whole groups (people) rather than single answers.

    A person's probes share their enrolled photos and their face, so their answers are right or wrong together;
    resampling answers one by one (as :func:`ece_noise_floor` draws them) understates how much the ECE of another
    set of people would differ. Strangers are each their own group. The bootstrap ECE is biased upwards (binning
    noise only adds), so the interval is a guide to spread, not a test of zero."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    _, group_of = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
    members = [np.flatnonzero(group_of == g) for g in range(group_of.max() + 1)]
    rng = np.random.RandomState(seed)
    eces = []
    for _ in range(draws):
        chosen = np.concatenate([members[g] for g in rng.randint(0, len(members), len(members))])
        eces.append(expected_calibration_error(p[chosen], y[chosen], n_bins))
    return {"low": float(np.percentile(eces, 2.5)), "high": float(np.percentile(eces, 97.5))}


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((np.asarray(probabilities, dtype=np.float64) - np.asarray(labels, dtype=np.float64)) ** 2))


def reliability_curve(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, list[float]]:
    """Per non-empty bin: mean predicted probability, observed frequency and count (for the reliability diagram)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    curve: dict[str, list[float]] = {"confidence": [], "frequency": [], "count": []}
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            curve["confidence"].append(float(p[in_bin].mean()))
            curve["frequency"].append(float(y[in_bin].mean()))
            curve["count"].append(int(in_bin.sum()))
    return curve
