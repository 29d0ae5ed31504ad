"""How much of the dev detection rate that selects checkpoints is measurement noise, for one finished model.

    python bench/selection_noise.py --model FacialRecognitionTrainFlow/<run>     # or a bundle folder

The flow keeps the evaluation with the best dev AUC + dev detection rate at FPIR 5% (1 - FNIR; gallery = each dev
person's first photo, probes = their other photos and the dev strangers). Late in a run that rate moves by several
points from one evaluation to the next (docs/experiments.md, the full-runs table), and the step kept is the best of
that series. This script holds one model fixed and asks how much the number moves when only the measurement
changes, as training measures it (the bundle's preprocessing, no flip averaging):

- gallery draws: each dev person enrolled with another of their photos (a seeded random one, as
  ``DevProtocol(gallery_draws=...)`` draws them; draw 0 is the flow's first photo), everything else the same;
- a bootstrap over people: dev people and dev strangers resampled with replacement (the flow's gallery), i.e. how
  far the figure of these 336 people and 813 strangers may lie from that of other people like them.

Next to them, from the committed full-run JSONs, the spread of the dev detection rate over each run's last six
evaluations. Writes bench/results/selection_noise.json.
"""

from __future__ import annotations

import argparse
import json
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
from facerec.train.data import resolve_dataset, scan_people  # noqa: E402
from facerec.train.evaluation import DevProtocol, embed_paths, identification_metrics  # noqa: E402
from facerec.train.metrics import fnir_at_fpir  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# the full runs selected on one dev gallery, as this script measures (not train_benchmark_gallery_draws.json)
FULL_RUNS = ["train_benchmark_2026-11-29.json", "train_benchmark_default_2026-12-03.json",
             "train_benchmark_singles.json", "train_benchmark_lookalike.json"]  # fmt: skip
LATE = 6


def rates(embeddings, gallery) -> dict:
    """Rank-1 and 1 - FNIR at FPIR 5% of one of the dev protocol's galleries."""
    found = identification_metrics(embeddings, *gallery)
    return {"dir_at_fpir_0.05": 1 - found["open_set_fnir_at_fpir_0.05"], "rank1": found["open_set_rank1"]}


def bootstrap_people(embeddings, gallery, resamples: int, seed: int = 1) -> list[dict]:
    """One gallery fixed; each resample draws dev people (with all their probes) and dev strangers with replacement
    and recomputes rank-1 and the detection rate from the probes' top-1 answers."""
    gallery_paths, labels, probe_paths, probe_labels = gallery
    scores = np.stack([embeddings[p] for p in probe_paths]) @ np.stack([embeddings[p] for p in gallery_paths]).T
    top = scores.argmax(axis=1)
    top_score = scores[np.arange(len(probe_paths)), top]
    hit = np.array([labels[j] == name for j, name in zip(top, probe_labels, strict=True)])
    rows_of: dict[str, list[int]] = {}
    for i, (path, name) in enumerate(zip(probe_paths, probe_labels, strict=True)):
        rows_of.setdefault(name if name is not None else path, []).append(i)  # a stranger: one photo each
    enrolled = set(labels)
    known = [rows for key, rows in rows_of.items() if key in enrolled]
    unknown = [rows for key, rows in rows_of.items() if key not in enrolled]
    rng = np.random.RandomState(seed)
    results = []
    for _ in range(resamples):
        k = np.concatenate([known[i] for i in rng.randint(len(known), size=len(known))])
        u = np.concatenate([unknown[i] for i in rng.randint(len(unknown), size=len(unknown))])
        fnir, _ = fnir_at_fpir(top_score[k], hit[k], top_score[u], 0.05)
        results.append({"dir_at_fpir_0.05": 1 - fnir, "rank1": float(hit[k].mean())})
    return results


def spread(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)), "min": min(values),
            "max": max(values), "n": len(values)}  # fmt: skip


def observed_swings() -> list[dict]:
    """The dev detection rate over the last evaluations of every committed full run."""
    rows = []
    for name in FULL_RUNS:
        path = RESULTS / name
        if not path.exists():
            continue
        for run in json.loads(path.read_text())["runs"]:
            late = [e["dev_dir_at_fpir_0.05"] for e in run["dev_history"][-LATE:]]
            rows.append({"run": run["run"], "source": name, "last_evaluations": late, **spread(late)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a Metaflow run (FacialRecognitionTrainFlow/<id>) or bundle")
    lfw = os.environ.get("LFW_DIR") or str(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    parser.add_argument("--dataset", default=lfw)
    parser.add_argument("--draws", type=int, default=20, help="random gallery draws besides the first photos")
    parser.add_argument("--seed", type=int, default=0, help="the gallery draws' seed")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples of people and strangers")
    parser.add_argument("--out", default=str(RESULTS / "selection_noise.json"))
    args = parser.parse_args()

    started = time.monotonic()
    people = scan_people(resolve_dataset(args.dataset))
    bundle = load_bundle(args.model)
    names, strangers = sorted(bundle.split.dev), sorted(bundle.split.singles_dev)
    dev = DevProtocol.build(people, names, strangers, seed=args.seed, gallery_draws=1 + args.draws)
    print(f"embedding {len(dev.paths):,} dev photos ...", flush=True)
    embeddings = embed_paths(bundle.encoder, bundle.preprocess, dev.paths, flip_tta=False)
    flow_gallery = rates(embeddings, dev.galleries[0])
    draws = [rates(embeddings, gallery) for gallery in dev.galleries[1:]]
    resampled = bootstrap_people(embeddings, dev.galleries[0], args.resamples)

    report = {
        **environment(),
        "model": args.model,
        "model_version": bundle.model_version,
        "dev_people": len(names),
        "dev_strangers": len(strangers),
        "gallery_seed": args.seed,
        "as_the_flow_measures": flow_gallery,
        "gallery_draws": {key: spread([d[key] for d in draws]) for key in ("dir_at_fpir_0.05", "rank1")},
        "bootstrap_people": {key: spread([d[key] for d in resampled]) for key in ("dir_at_fpir_0.05", "rank1")},
        "observed_swings": observed_swings(),
        "seconds": round(time.monotonic() - started, 1),
    }
    write_report(report, args.out)
    print(json.dumps({k: report[k] for k in ("as_the_flow_measures", "gallery_draws", "bootstrap_people")}, indent=1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
