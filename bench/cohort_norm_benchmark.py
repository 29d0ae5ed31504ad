"""Symmetric cohort normalisation of open-set answers, measured on dev people only.

    python bench/cohort_norm_benchmark.py --model FacialRecognitionTrainFlow/<run> --out bench/results/X.json

The served evidence normalises the probe side only: the best person's score against the probe's own top cohort
similarities (how much this face resembles strangers in general). The gallery side is left out: some enrolled people
resemble many strangers (hubs), and their scores against any stranger run high. Adaptive symmetric score
normalisation (AS-norm, speaker verification) z-scores each probe-person score against both sides' cohort statistics.
Three arms on the same dev simulations, all with the centroid person score:

* ``probe_z`` — the evidence bundles carried until 2026-12-05 (best score, margin, probe-side z-score, gallery size,
  photos);
* ``probe_z+gallery_z`` — the same best person, plus the best person's gallery-side z-score as a sixth feature;
* ``snorm_ranked`` — people ranked by the symmetric z-score (AS-norm) instead of the raw cosine, evidence taken on
  that ranking (the normalised top and margin next to the raw top, gallery size and photos).

Each arm fits the served two-part calibrator on even simulation rounds and is measured on odd ones (as the flow's
choice of person score is), and also on dev galleries shaped like the test protocol (every dev person enrolled with
1 / 2 / 3 photos, every dev stranger a probe). Test people are never read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.model.openset import cohort_statistics, shift_prior  # noqa: E402
from facerec.train.calibrate import cohort_names  # noqa: E402
from facerec.train.data import images_of, resolve_dataset, scan_people  # noqa: E402
from facerec.train.evaluation import embed_paths  # noqa: E402
from facerec.train.metrics import expected_calibration_error, fnir_at_fpir  # noqa: E402
from facerec.train.openset import (  # noqa: E402
    Decisions,
    Gallery,
    _fit_map,
    build_gallery,
    gallery_centroids,
    person_matrix,
    simulated_galleries,
)

ARMS = ("probe_z", "probe_z+gallery_z", "snorm_ranked")


def arm_evidence(gallery: Gallery, cohort: np.ndarray, arm: str, top_k: int = 50):
    """(features, correct, top raw score) per probe for one arm, centroid person scores."""
    scores, people, counts = person_matrix(gallery, "centroid")
    p_mean, p_std = cohort_statistics(gallery.probes, cohort, top_k)
    g_mean, g_std = cohort_statistics(gallery_centroids(gallery), cohort, top_k)
    rows = np.arange(len(scores))
    probe_z = (scores - p_mean[:, None]) / p_std[:, None]
    gallery_z = (scores - g_mean[None, :]) / g_std[None, :]
    ranking = 0.5 * (probe_z + gallery_z) if arm == "snorm_ranked" else scores
    order = np.argsort(-ranking, axis=1)
    best, second = order[:, 0], order[:, 1] if scores.shape[1] > 1 else order[:, 0]
    log_gallery = np.full(len(scores), np.log(len(people)))
    photos = np.log(counts[best].astype(np.float64))
    top = scores[rows, best]
    if arm == "snorm_ranked":
        s_top, s_second = ranking[rows, best], ranking[rows, second]
        features = np.column_stack([s_top, s_top - s_second, top, log_gallery, photos])
    else:
        columns_ = [top, top - scores[rows, second], probe_z[rows, best], log_gallery, photos]
        if arm == "probe_z+gallery_z":
            columns_.append(gallery_z[rows, best])
        features = np.column_stack(columns_)
    correct = np.array([people[b] == n for b, n in zip(best, gallery.probe_names, strict=True)])
    return features, correct, top


def known_mask(gallery: Gallery) -> np.ndarray:
    return np.array([n is not None for n in gallery.probe_names])


class TwoPart:
    """The served calibrator's shape: P(enrolled) x P(right | enrolled), any number of features."""

    def __init__(self, features, correct, known):
        self.known_map = _fit_map(features, known)
        self.right_map = _fit_map(features[known], correct[known])
        self.share = float(1 - known.mean())

    def __call__(self, features, share=None):
        enrolled = self.known_map(features)
        if share is not None:
            enrolled = shift_prior(enrolled, self.share, share)
        return np.clip(enrolled * self.right_map(features), 0, 1)


def figures(score, correct, known, tiebreak) -> dict:
    decisions = Decisions([], score, correct, known, tiebreak)
    ranks = decisions.ranking()
    out = {"rank1": float(correct[known].mean()), "known": int(known.sum()), "strangers": int((~known).sum())}
    for level in (0.01, 0.05):
        fnir, _ = fnir_at_fpir(ranks[known], correct[known], ranks[~known], level)
        out[f"named_right_at_fpir_{level:g}"] = 1 - fnir
    out["ece"] = expected_calibration_error(score, correct)
    return out


def run_arm(embeddings, people, dev, singles, cohort, arm: str, seeds: list[int], rounds: int) -> dict:
    result: dict = {"held_out": [], "protocol": {}}
    for seed in seeds:
        # per round: features, correct, raw top score, known; even rounds fit, odd rounds measure
        rounds_ = {r: (*arm_evidence(g, cohort, arm), known_mask(g))
                   for r, g in simulated_galleries(embeddings, people, dev, singles, rounds, seed)}  # fmt: skip
        fit = [np.concatenate(parts) for parts in zip(*(v for r, v in rounds_.items() if r % 2 == 0), strict=True)]
        held = [np.concatenate(parts) for parts in zip(*(v for r, v in rounds_.items() if r % 2 == 1), strict=True)]
        model = TwoPart(fit[0], fit[1], fit[3])
        features, correct, top, known = held
        result["held_out"].append({"seed": seed, **figures(model(features), correct, known, top)})
        # dev galleries shaped like the test protocol (every dev person with k photos, drawn with the seed; every
        # dev stranger a probe), answered by this seed's calibrator
        rng = np.random.RandomState(1000 + seed)
        for k in (1, 2, 3):
            gallery = build_gallery(embeddings, people, dev, singles, k, rng)
            features, correct, top = arm_evidence(gallery, cohort, arm)
            known = known_mask(gallery)
            result["protocol"].setdefault(f"{k}_photos", []).append(
                {"seed": seed, **figures(model(features), correct, known, top)}
            )
    result["held_out_mean"] = _mean(result["held_out"])
    result["protocol_mean"] = {k: _mean(v) for k, v in result["protocol"].items()}
    return result


def paired_gains(arm: dict, base: dict, keys=("rank1", "named_right_at_fpir_0.05")) -> dict:
    """Per-seed differences against the base arm on the same galleries: mean and sd over seeds."""
    out = {}
    sets = {"held_out": (arm["held_out"], base["held_out"])}
    sets |= {f"protocol_{k}": (arm["protocol"][k], base["protocol"][k]) for k in arm["protocol"]}
    for name, (rows, base_rows) in sets.items():
        for key in keys:
            diffs = [r[key] - b[key] for r, b in zip(rows, base_rows, strict=True)]
            out[f"{name}_{key}"] = {"mean": float(np.mean(diffs)), "sd": float(np.std(diffs, ddof=1))}
    return out


def _mean(rows: list[dict]) -> dict:
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "seed"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--out", default=str(ROOT / "bench/results/cohort_norm_benchmark.json"))
    args = parser.parse_args()
    started = time.monotonic()
    bundle = load_bundle(args.model)
    people = scan_people(resolve_dataset(bundle.metrics["train"]["recipe"]["dataset"]))
    split = bundle.split
    cohort_people = cohort_names(split, split.seed)
    paths = [item.path for item in images_of(people, split.dev + split.singles_dev + cohort_people)]
    print(f"embedding {len(paths):,} dev and cohort crops ...", flush=True)
    embeddings = embed_paths(bundle.encoder, bundle.preprocess, paths)
    cohort = np.stack([embeddings[people[name][0]] for name in cohort_people])
    dev = [n for n in split.dev if len(people[n]) >= 2]
    arms = {}
    for arm in ARMS:
        arms[arm] = run_arm(embeddings, people, dev, split.singles_dev, cohort, arm, args.seeds, args.rounds)
        print(arm, {k: round(v, 4) for k, v in arms[arm]["held_out_mean"].items()}, flush=True)
        for k, v in arms[arm]["protocol_mean"].items():
            print("   ", k, {m: round(x, 4) if isinstance(x, float) else x for m, x in v.items()}, flush=True)
    paired = {arm: paired_gains(arms[arm], arms[ARMS[0]]) for arm in ARMS[1:]}
    print("paired gains over", ARMS[0], paired, flush=True)
    write_report(
        {
            **environment(),
            "model": args.model,
            "model_version": bundle.model_version,
            "dev_people": len(dev),
            "dev_strangers": len(split.singles_dev),
            "cohort": len(cohort),
            "seeds": args.seeds,
            "rounds": args.rounds,
            "arms": arms,
            "paired_gains_over_probe_z": paired,
            "seconds": round(time.monotonic() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
