"""Does the open-set calibrator lose detection rate by being additive in its evidence? Dev only.

    python bench/open_set_map_search.py --models FacialRecognitionTrainFlow/<run> ... \
        --out bench/results/open_set_map_search.json
    python bench/open_set_map_search.py --models ... --extra-sizes 224    # bundles trained before a second size

The open-set calibrator (:mod:`facerec.model.openset`) maps six evidence columns (top, margin, cohort_z,
log_gallery, photos, gallery_z) through a logistic model, additive in them, then an isotonic stage. Gallery size and
photos per person change how the other columns should be read, which an additive model cannot express. Arms, each
as two parts (P(enrolled), P(right | enrolled)) multiplied, as served:

* ``linear``: today's map;
* ``quadratic``: the same logistic + isotonic over every square and pairwise product of the standardised columns
  (numpy-only to apply, so it could ship);
* ``trees``: gradient-boosted trees (sklearn's HistGradientBoostingClassifier), a ceiling on what any non-linear
  map of this evidence could add; diagnostic, not a candidate.
* ``trees_isotonic`` (``--arms``, added after the first runs): smaller trees (depth 3, at least 100 probes a
  leaf) whose raw output goes through the same isotonic stage as the logistic map's: whether the trees' gain at
  FPIR 1% survives once their probabilities are calibrated. Exploratory: no rule was set for it.

Each model's dev crops are embedded as the flow embeds them (the served runtime and input), the flow's dev
simulations are built with the bundle's own aggregate, and each arm is fitted on the even rounds and scored on the odd
ones, then the other way round (2-fold). Reported per arm: held-out detection rate at FPIR 1% and 5%, open-set ECE,
and the detection rate at FPIR 5% per number of photos. No test photo is read. The rule applied to these figures was
written down before the first run (docs/experiments.md, "The open-set calibrator's map").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402

from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.model.preprocess import parse_sizes  # noqa: E402
from facerec.train.calibrate import cohort_names  # noqa: E402
from facerec.train.evaluation import embed_paths  # noqa: E402
from facerec.train.metrics import expected_calibration_error, fnir_at_fpir  # noqa: E402
from facerec.train.openset import TOP, Decisions, _fit_map, simulate  # noqa: E402

ARMS = ("linear", "quadratic", "trees", "trees_isotonic")
Score = Callable[[np.ndarray], np.ndarray]


def quadratic(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The standardised columns, their squares and their pairwise products."""
    z = (features - mean) / scale
    i, j = np.triu_indices(z.shape[1])
    return np.column_stack([z, z[:, i] * z[:, j]])


def trees_isotonic(x: np.ndarray, y: np.ndarray) -> Score:
    """Small boosted trees, then the isotonic stage on their raw output (as the logistic map's logit gets)."""
    model = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=100, random_state=0
    ).fit(x, y)
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(model.decision_function(x), y)
    return lambda rows: iso.predict(model.decision_function(rows))


def fit_arm(arm: str, features: np.ndarray, correct: np.ndarray, known: np.ndarray) -> Score:
    """P(enrolled) x P(right | enrolled), both parts fitted by ``arm`` on the same simulated probes."""
    if arm == "trees":

        def tree(x: np.ndarray, y: np.ndarray):
            return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0).fit(x, y)

        enrolled, right = tree(features, known), tree(features[known], correct[known])
        return lambda x: enrolled.predict_proba(x)[:, 1] * right.predict_proba(x)[:, 1]
    if arm == "trees_isotonic":
        enrolled_part, right_part = trees_isotonic(features, known), trees_isotonic(features[known], correct[known])
        return lambda x: enrolled_part(x) * right_part(x)
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9

    def expand(x: np.ndarray) -> np.ndarray:
        return quadratic(x, mean, scale) if arm == "quadratic" else x

    enrolled, right = _fit_map(expand(features), known), _fit_map(expand(features[known]), correct[known])
    return lambda x: np.clip(enrolled(expand(x)) * right(expand(x)), 0.0, 1.0)


def detection_rate(score: np.ndarray, top: np.ndarray, correct: np.ndarray, known: np.ndarray, fpir: float) -> float:
    """1 - FNIR at ``fpir``, ties in the score broken by the best person's similarity (as the flow measures)."""
    ranks = Decisions([], score, correct, known, top).ranking()
    fnir, _ = fnir_at_fpir(ranks[known], correct[known], ranks[~known], fpir)
    return 1.0 - fnir


def held_out(features, correct, known, rounds, arms: tuple[str, ...] = ARMS[:3]) -> dict:
    """Every arm fitted on one parity of rounds and scored on the other, both ways; figures pooled over the folds."""
    photos = 1 + rounds % 3  # simulated_galleries cycles 1-3 photos per person by round
    report = {}
    for arm in arms:
        scores = np.zeros(len(correct))
        for parity in (0, 1):
            fit = rounds % 2 != parity
            scores[~fit] = fit_arm(arm, features[fit], correct[fit], known[fit])(features[~fit])
        # each fold's rates, then their mean: the two halves hold different galleries
        folds = [rounds % 2 == parity for parity in (0, 1)]
        top = features[:, TOP]

        def rate(mask: np.ndarray, fpir: float, scores=scores, top=top) -> float:
            return detection_rate(scores[mask], top[mask], correct[mask], known[mask], fpir)

        report[arm] = {
            "dir_at_fpir_0.01": float(np.mean([rate(f, 0.01) for f in folds])),
            "dir_at_fpir_0.05": float(np.mean([rate(f, 0.05) for f in folds])),
            "ece_15_bins": float(np.mean([expected_calibration_error(scores[f], correct[f], 15) for f in folds])),
            "dir_at_fpir_0.05_by_photos": {
                str(k): float(np.mean([rate(f & (photos == k), 0.05) for f in folds])) for k in (1, 2, 3)
            },
        }
    return report


def measure(model: str, extra_sizes: tuple[int, ...] | None = None, arms: tuple[str, ...] = ARMS[:3]) -> dict:
    started = time.monotonic()
    bundle = load_bundle(model)
    if extra_sizes is not None:
        bundle.preprocess = bundle.preprocess.with_extra_sizes(extra_sizes)
    people = bundle_people(bundle)
    split = bundle.split
    names = split.dev + split.singles_dev + cohort_names(split, split.seed)
    paths = [p for name in names for p in people[name]]
    embeddings = embed_paths(bundle.encoder, bundle.preprocess, paths)
    dev = [name for name in split.dev if len(people[name]) >= 2]
    cohort = np.stack([embeddings[people[name][0]] for name in cohort_names(split, split.seed)])
    aggregate, cohort_top = bundle.open_set.aggregate, bundle.open_set.cohort_top
    features, correct, known, rounds = simulate(
        embeddings, people, dev, split.singles_dev, cohort, aggregate, cohort_top, seed=split.seed
    )
    measured = held_out(features, correct, known, rounds, arms)
    for arm, figures in measured.items():
        print(model, arm, {k: v for k, v in figures.items() if not isinstance(v, dict)}, flush=True)
    return {
        "model": model,
        "model_version": bundle.model_version,
        "test_input_sizes": list(bundle.preprocess.eval_image_sizes),
        "aggregate": aggregate,
        "dev_probes": len(correct),
        "dev_stranger_share": float(1 - known.mean()),
        "arms": measured,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, help="bundle URIs (FacialRecognitionTrainFlow/<id>)")
    parser.add_argument("--extra-sizes", type=parse_sizes, default=None, help="default: each bundle's own")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS[:3]), help="default: the first three")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "open_set_map_search.json"))
    args = parser.parse_args()
    arms = tuple(args.arms)
    models = [measure(m, args.extra_sizes, arms) for m in args.models]
    write_report({**environment(), "arms": list(arms), "models": models}, args.out)


if __name__ == "__main__":
    main()
