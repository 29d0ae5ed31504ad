"""Why is the open-set calibrator less calibrated on the test galleries than on its own dev simulations? Dev only.

    python bench/calibration_diagnosis.py --model FacialRecognitionTrainFlow/<run>

The calibrator is fitted on dev simulations whose galleries are random draws of 10-300 dev people (1-3 photos each)
with 40% strangers; the test protocol enrols *every* test person who has more photos than the gallery holds, and its
known probes are dominated by a few people with 50-120 photos. This script fits the calibrator as the flow does, but
with half of the dev strangers only, then measures its ECE on dev, with the other half as strangers:

* ``held_out_simulation``: fresh simulation rounds (the conditions it was fitted for);
* ``protocol_shaped``: one gallery shaped like the test protocol (every dev person with more than k photos, their
  first k enrolled, all their other photos and all held-out dev strangers as probes), k = 1, 2, 3.

Both read dev people only (the crops, as the flow fits them). If the protocol-shaped ECE is well above the held-out
simulation's, the gallery composition, not the fit, explains the test ECE.

``stranger_mix``: the same protocol-shaped galleries with their probes subsampled to 10%, 50% and 80% strangers (and
as they come), answered three ways: the one joint map (what bundles before 2026-12-03 serve), the two parts at the
share they were fitted at (what a deployment gets without ``STRANGER_SHARE``), and the two parts told the gallery's
true share (a deployment that states it). Writes bench/results/calibration_diagnosis.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402

from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.train.calibrate import cohort_names, fit_calibrators  # noqa: E402
from facerec.train.data import images_of  # noqa: E402
from facerec.train.evaluation import embed_paths  # noqa: E402
from facerec.train.metrics import ece_noise_floor, expected_calibration_error  # noqa: E402
from facerec.train.openset import build_gallery, open_set_evidence, open_set_rule, simulate  # noqa: E402

MIXES = (0.1, 0.5, 0.8)


def subsample_to(known: np.ndarray, share: float, rng: np.random.RandomState) -> np.ndarray:
    """Indices of probes keeping all of one kind and enough of the other for ``share`` strangers."""
    kept, strangers = np.flatnonzero(known), np.flatnonzero(~known)
    if share > 1 - known.mean():
        kept = rng.choice(kept, int(len(strangers) * (1 - share) / share), replace=False)
    else:
        strangers = rng.choice(strangers, int(len(kept) * share / (1 - share)), replace=False)
    return np.sort(np.concatenate([kept, strangers]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="FacialRecognitionTrainFlow/latest")
    parser.add_argument("--dataset", help="default: the dataset the bundle's recipe names")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "calibration_diagnosis.json"))
    args = parser.parse_args()

    bundle = load_bundle(args.model)
    people = bundle_people(bundle, args.dataset)
    split = bundle.split
    cohort_people = cohort_names(split, split.seed)
    paths = [item.path for item in images_of(people, split.dev + split.singles_dev + cohort_people)]
    embeddings = embed_paths(bundle.encoder, bundle.preprocess, paths)
    strangers = sorted(split.singles_dev)
    fit_half, held_half = strangers[::2], strangers[1::2]
    # fitted as the flow fits it, on a split whose dev strangers are the first half only
    fitted = fit_calibrators(embeddings, people, dataclasses.replace(split, singles_dev=fit_half), split.seed)
    calibrator, cohort, fit_report = fitted.open_set, fitted.cohort, fitted.report

    def ece_of(probabilities: np.ndarray, correct: np.ndarray, known: np.ndarray) -> dict:
        return {
            "probes": len(correct),
            "stranger_share": float(1 - known.mean()),
            "ece_15_bins": expected_calibration_error(probabilities, correct, 15),
            "ece_noise_floor": ece_noise_floor(probabilities, 15),
            "mean_probability": float(probabilities.mean()),
            "share_right": float(correct.mean()),
        }

    features, correct, known, _ = simulate(
        embeddings, people, split.dev, held_half, cohort, calibrator.aggregate, calibrator.cohort_top,
        seed=split.seed + 2,
    )  # fmt: skip
    report = {
        **environment(),
        "model_version": bundle.model_version,
        "dev_people": len(split.dev),
        "dev_strangers_fit": len(fit_half),
        "dev_strangers_held_out": len(held_half),
        "aggregate": calibrator.aggregate,
        "fit": fit_report,
        "held_out_simulation": ece_of(calibrator(features), correct, known),
        "protocol_shaped": {},
    }
    for k in (1, 2, 3):
        gallery = build_gallery(embeddings, people, split.dev, held_half, k)
        decisions = open_set_rule(gallery, calibrator, cohort)
        report["protocol_shaped"][f"{k}_photos"] = {"people": len(gallery.people)} | ece_of(
            decisions.score, decisions.correct, decisions.known
        )
    rng = np.random.RandomState(split.seed)
    report["stranger_mix"] = {"fitted_share": calibrator.stranger_share, "galleries": []}
    for k in (1, 2, 3):
        gallery = build_gallery(embeddings, people, split.dev, held_half, k)
        features, _, correct = open_set_evidence(gallery, calibrator.aggregate, cohort, calibrator.cohort_top)
        known = np.array([n is not None for n in gallery.probe_names])
        for share in (None, *MIXES):
            rows = np.arange(len(known)) if share is None else subsample_to(known, share, rng)
            f, c, kn = features[rows], correct[rows], known[rows]
            true_share = float(1 - kn.mean())
            report["stranger_mix"]["galleries"].append({
                "photos": k,
                "probes": len(rows),
                "stranger_share": true_share,
                "share_right": float(c.mean()),
                "ece_noise_floor": ece_noise_floor(calibrator(f, true_share), 15),
                "ece_joint": expected_calibration_error(calibrator.joint(f), c, 15),
                "ece_parts_at_fitted_share": expected_calibration_error(calibrator(f), c, 15),
                "ece_parts_told_the_share": expected_calibration_error(calibrator(f, true_share), c, 15),
            })  # fmt: skip
    out = write_report(report, args.out)
    for g in report["stranger_mix"]["galleries"]:
        print(
            f"{g['photos']} photo(s), {g['stranger_share']:.0%} strangers: ECE joint {g['ece_joint']:.3f}, parts "
            f"{g['ece_parts_at_fitted_share']:.3f}, told {g['ece_parts_told_the_share']:.3f}"
        )
    for name, entry in [("held-out simulation", report["held_out_simulation"])] + [
        (f"protocol-shaped, {k}", v) for k, v in report["protocol_shaped"].items()
    ]:
        print(
            f"{name:28s} probes {entry['probes']:6,}  strangers {entry['stranger_share']:.0%}  ECE "
            f"{entry['ece_15_bins']:.3f} (perfect <= {entry['ece_noise_floor']['p95']:.3f})  mean P "
            f"{entry['mean_probability']:.3f} vs right {entry['share_right']:.3f}"
        )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
