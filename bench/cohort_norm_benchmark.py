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
  that ranking (the normalised top and margin next to the raw top, gallery size and photos);
* ``served_rule`` — the six features' calibrator (fitted as ``probe_z+gallery_z``), answered the way the recognizer
  answers: each of the 10 best people by score judged as if named (the margin to the best other person), and the
  most probable one named, rather than the best by score;
* ``snorm_ranked+six`` — people ranked by the symmetric z-score, the six served features taken at the person it
  ranks first (the margin to the best other person by score, negative where the ranking passes a higher score).

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

ARMS = ("probe_z", "probe_z+gallery_z", "snorm_ranked", "served_rule", "snorm_ranked+six")
SERVED_CANDIDATES = 10  # people the served rule judges per probe (the recognizer: those its face search found)


def centroid_cohort_scores(gallery: Gallery, cohort: np.ndarray, top_k: int):
    """Probe x person centroid scores, the people, their photo counts, and both sides' cohort statistics: the
    probes' (mean, std) and the people's normalised centroids' (mean, std) over their ``top_k`` cohort similarities."""
    centroids = gallery_centroids(gallery)
    scores, people, counts = person_matrix(gallery, "centroid", centroids)
    return (
        scores,
        people,
        counts,
        cohort_statistics(gallery.probes, cohort, top_k),
        cohort_statistics(centroids, cohort, top_k),
    )


def arm_evidence(gallery: Gallery, cohort: np.ndarray, arm: str, top_k: int = 50):
    """(features, correct, top raw score) per probe for one arm, centroid person scores."""
    scores, people, counts, (p_mean, p_std), (g_mean, g_std) = centroid_cohort_scores(gallery, cohort, top_k)
    rows = np.arange(len(scores))
    probe_z = (scores - p_mean[:, None]) / p_std[:, None]
    gallery_z = (scores - g_mean[None, :]) / g_std[None, :]
    ranking = 0.5 * (probe_z + gallery_z) if arm.startswith("snorm_ranked") else scores
    order = np.argsort(-ranking, axis=1)
    best, second = order[:, 0], order[:, 1] if scores.shape[1] > 1 else order[:, 0]
    log_gallery = np.full(len(scores), np.log(len(people)))
    photos = np.log(counts[best].astype(np.float64))
    top = scores[rows, best]
    if arm == "snorm_ranked+six":
        masked = scores.copy()
        masked[rows, best] = -np.inf
        other = masked.max(axis=1) if scores.shape[1] > 1 else np.full(len(scores), -1.0)
        features = np.column_stack([top, top - other, probe_z[rows, best], log_gallery, photos, gallery_z[rows, best]])
    elif arm == "snorm_ranked":
        s_top, s_second = ranking[rows, best], ranking[rows, second]
        features = np.column_stack([s_top, s_top - s_second, top, log_gallery, photos])
    else:
        columns_ = [top, top - scores[rows, second], probe_z[rows, best], log_gallery, photos]
        if arm == "probe_z+gallery_z":
            columns_.append(gallery_z[rows, best])
        features = np.column_stack(columns_)
    correct = np.array([people[b] == n for b, n in zip(best, gallery.probe_names, strict=True)])
    return features, correct, top


def served_answers(gallery: Gallery, cohort: np.ndarray, model, top_k: int = 50):
    """(P of the named person, correct, their raw score) per probe, named as the recognizer names: the most probable
    of the best :data:`SERVED_CANDIDATES` people by score, each judged with the margin to the best other person."""
    scores, people, counts, (p_mean, p_std), (g_mean, g_std) = centroid_cohort_scores(gallery, cohort, top_k)
    n = min(SERVED_CANDIDATES, scores.shape[1])
    order = np.argsort(-scores, axis=1)[:, :n]
    cand = np.take_along_axis(scores, order, axis=1)
    other = np.where(np.arange(n)[None, :] == 0, cand[:, [1]] if n > 1 else -1.0, cand[:, [0]])
    z = (cand - p_mean[:, None]) / p_std[:, None]
    features = np.stack(
        [
            cand,
            cand - other,
            z,
            np.full(cand.shape, np.log(len(people))),
            np.log(counts[order].astype(np.float64)),
            (cand - g_mean[order]) / g_std[order],
        ],
        axis=-1,
    )
    probability = model(features.reshape(-1, features.shape[-1])).reshape(cand.shape)
    # most probable first, ties to the higher score (the recognizer's sort)
    pick = _pick(probability, cand)
    rows = np.arange(len(cand))
    best = order[rows, pick]
    correct = np.array([people[b] == name for b, name in zip(best, gallery.probe_names, strict=True)])
    return probability[rows, pick], correct, cand[rows, pick]


def _pick(probability: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per row, the column with the highest probability, ties broken by the higher score."""
    best = probability.max(axis=1, keepdims=True)
    return np.where(probability == best, score, -np.inf).argmax(axis=1)


def answers(gallery: Gallery, cohort: np.ndarray, arm: str, model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P of the named person, correct, their raw score) per probe under one arm's fitted calibrator."""
    if arm == "served_rule":
        return served_answers(gallery, cohort, model)
    features, correct, top = arm_evidence(gallery, cohort, arm)
    return model(features), correct, top


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
        # served_rule is fitted as the six features are, and answered as the recognizer answers
        evidence_arm = "probe_z+gallery_z" if arm == "served_rule" else arm
        galleries = dict(simulated_galleries(embeddings, people, dev, singles, rounds, seed))
        fit_rows = [(*arm_evidence(g, cohort, evidence_arm), known_mask(g)) for r, g in galleries.items() if r % 2 == 0]
        fit = [np.concatenate(parts) for parts in zip(*fit_rows, strict=True)]
        model = TwoPart(fit[0], fit[1], fit[3])
        held = [(*answers(g, cohort, arm, model), known_mask(g)) for r, g in galleries.items() if r % 2 == 1]
        score, correct, top, known = (np.concatenate(parts) for parts in zip(*held, strict=True))
        result["held_out"].append({"seed": seed, **figures(score, correct, known, top)})
        # dev galleries shaped like the test protocol (every dev person with k photos, drawn with the seed; every
        # dev stranger a probe), answered by this seed's calibrator
        rng = np.random.RandomState(1000 + seed)
        for k in (1, 2, 3):
            gallery = build_gallery(embeddings, people, dev, singles, k, rng)
            score, correct, top = answers(gallery, cohort, arm, model)
            result["protocol"].setdefault(f"{k}_photos", []).append(
                {"seed": seed, **figures(score, correct, known_mask(gallery), top)}
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
    # what is served since 2026-12-05 is the six features: the later arms against it
    paired_six = {arm: paired_gains(arms[arm], arms["probe_z+gallery_z"]) for arm in ARMS[3:]}
    print("paired gains over probe_z+gallery_z", paired_six, flush=True)
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
            "paired_gains_over_probe_z+gallery_z": paired_six,
            "seconds": round(time.monotonic() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
