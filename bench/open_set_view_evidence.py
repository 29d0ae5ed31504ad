"""Do the served input's two views disagree more on strangers? Dev only; nothing here is served.

    python bench/open_set_view_evidence.py --models FacialRecognitionTrainFlow/<run> ... \
        --out bench/results/open_set_view_evidence.json

A face is served as the normalised mean of its embeddings at 192 and 224 px. When the two views point to different
people, or score the named person differently, the face may be a stranger that happens to sit near somebody. Two
columns are added to the open-set calibrator's six, probe side only (enrolled faces stay the served mean):

* ``view_gap``: |score of the named person under the 192 px view - under the 224 px view|;
* ``views_agree``: 1 when both views alone would name the same best person, else 0.

Each model's dev crops are embedded once per view (their normalised mean is checked against the served embedding),
the flow's dev simulations are built with the bundle's aggregate, and the additive map with six and with eight
columns is fitted on one half of the rounds and scored on the other, both ways (as `bench/open_set_map_search.py`).
No test photo is read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402

from bench.open_set_map_search import held_out  # noqa: E402
from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.train.calibrate import cohort_names  # noqa: E402
from facerec.train.evaluation import embed_paths  # noqa: E402
from facerec.train.openset import gallery_centroids, open_set_evidence, simulated_galleries  # noqa: E402


def view_embeddings(bundle, paths: list[str]) -> tuple[dict, dict, dict]:
    """Each photo at each test input size alone, and their served combination (the normalised sum)."""
    main, extra = bundle.preprocess.eval_image_size, bundle.preprocess.test_extra_sizes
    if len(extra) != 1:
        raise SystemExit(f"needs a bundle served at two sizes, this one has {bundle.preprocess.eval_image_sizes}")
    first = embed_paths(bundle.encoder, bundle.preprocess.single_input(), paths)
    second = embed_paths(
        bundle.encoder, replace(bundle.preprocess, test_image_size=extra[0], test_extra_sizes=()), paths
    )
    served = {}
    for path in paths:
        total = first[path].astype(np.float64) + second[path]
        served[path] = (total / np.linalg.norm(total)).astype(np.float32)
    check = paths[:: max(1, len(paths) // 50)]
    reference = embed_paths(bundle.encoder, bundle.preprocess, check)
    gap = max(float(np.abs(reference[p] - served[p]).max()) for p in check)
    if gap > 1e-4:
        raise SystemExit(
            f"the views' combination is not the served embedding (largest difference {gap:.2e}, {main} px)"
        )
    return first, second, served


def simulate_with_views(embeddings, first, second, people, dev, strangers, cohort, aggregate, cohort_top, seed):
    """The flow's dev simulations: the six columns, the two view columns, correct, known and round per probe."""
    path_of = {vector.tobytes(): path for path, vector in embeddings.items()}
    rows, views, labels, knowns, groups = [], [], [], [], []
    for r, gallery in simulated_galleries(embeddings, people, dev, strangers, seed=seed):
        features, best, correct = open_set_evidence(gallery, aggregate, cohort, cohort_top)
        centroids = gallery_centroids(gallery)
        column = {name: j for j, name in enumerate(gallery.people)}
        paths = [path_of[probe.tobytes()] for probe in gallery.probes]
        a = np.stack([first[p] for p in paths]) @ centroids.T
        b = np.stack([second[p] for p in paths]) @ centroids.T
        named = np.array([column[name] for name in best])
        at = np.arange(len(paths))
        views.append(np.column_stack([np.abs(a[at, named] - b[at, named]), a.argmax(1) == b.argmax(1)]))
        rows.append(features)
        labels.append(correct)
        knowns.append(np.array([n is not None for n in gallery.probe_names]))
        groups.append(np.full(len(correct), r))
    return np.concatenate(rows), np.concatenate(views), *(np.concatenate(x) for x in (labels, knowns, groups))


def measure(model: str) -> dict:
    started = time.monotonic()
    bundle = load_bundle(model)
    people, split = bundle_people(bundle), bundle.split
    paths = [p for name in split.dev + split.singles_dev + cohort_names(split, split.seed) for p in people[name]]
    first, second, served = view_embeddings(bundle, paths)
    cohort = np.stack([served[people[name][0]] for name in cohort_names(split, split.seed)])
    dev = [name for name in split.dev if len(people[name]) >= 2]
    features, views, correct, known, rounds = simulate_with_views(
        served, first, second, people, dev, split.singles_dev, cohort,
        bundle.open_set.aggregate, bundle.open_set.cohort_top, split.seed,
    )  # fmt: skip
    # the additive map, as `bench/open_set_map_search.py` holds it out, on six columns and on eight
    arms = {
        "six": held_out(features, correct, known, rounds, ("linear",))["linear"],
        "six+views": held_out(np.column_stack([features, views]), correct, known, rounds, ("linear",))["linear"],
    }
    named_known, named_strangers = known, ~known
    report = {
        "model": model,
        "model_version": bundle.model_version,
        "test_input_sizes": list(bundle.preprocess.eval_image_sizes),
        "dev_probes": len(correct),
        # how the two columns differ between right answers, wrong answers to enrolled people, and strangers
        "view_gap_mean": {
            "known_named_right": float(views[named_known & correct, 0].mean()),
            "known_named_wrong": float(views[named_known & ~correct, 0].mean()),
            "strangers": float(views[named_strangers, 0].mean()),
        },
        "views_agree_share": {
            "known_named_right": float(views[named_known & correct, 1].mean()),
            "known_named_wrong": float(views[named_known & ~correct, 1].mean()),
            "strangers": float(views[named_strangers, 1].mean()),
        },
        "arms": arms,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(model, {k: v for k, v in report.items() if k in ("view_gap_mean", "views_agree_share", "arms")}, flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, help="bundle URIs served at two sizes")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "open_set_view_evidence.json"))
    args = parser.parse_args()
    write_report({**environment(), "models": [measure(m) for m in args.models]}, args.out)


if __name__ == "__main__":
    main()
