"""What holds known-vs-unknown AUC back: the encoder's identification, or how its scores separate.

    python bench/known_unknown_split.py --model FacialRecognitionTrainFlow/<run> --extra-sizes 224 \
        --out bench/results/known_unknown_split_<run>.json

Known-vs-unknown AUC (issue 13) asks how well the best gallery similarity tells enrolled people's photos from
strangers' (one photo per person enrolled). It is a mean over known probes, so it splits exactly by whether a known
probe's best match is the right person (:func:`facerec.train.metrics.open_set_metrics`):
``AUC = rank1 * AUC(named right vs strangers) + (1 - rank1) * AUC(named wrong vs strangers)``. The ceiling
``rank1 + (1 - rank1) * AUC(named wrong)`` is what the AUC would be if every right match beat every stranger; the rank-1
needed for a target follows from the two parts as they are. Dev (the first photo of each dev person) and test (the
flow's test protocol), the served runtime at the given input. Nothing is chosen from these figures.
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

from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.model.preprocess import parse_sizes  # noqa: E402
from facerec.train.evaluation import embed_paths, identification_metrics, open_set_protocol  # noqa: E402

TARGET = 0.80  # issue 13's known-vs-unknown AUC


def split_figures(metrics: dict, target: float = TARGET) -> dict:
    """The AUC, its two parts, the ceiling at this rank-1, and the rank-1 the target needs with the parts as is."""
    rank1 = metrics["open_set_rank1"]
    right = metrics["open_set_known_vs_unknown_auc_named_right"]
    wrong = metrics["open_set_known_vs_unknown_auc_named_wrong"]
    return {
        "rank1": rank1,
        "known_vs_unknown_auc": metrics["open_set_known_vs_unknown_auc"],
        "auc_named_right": right,
        "auc_named_wrong": wrong,
        "ceiling_at_this_rank1": rank1 + (1 - rank1) * wrong,
        "rank1_needed_for_target": (target - wrong) / (right - wrong) if right > wrong else None,
        "known_probes": metrics["n_known_probes"],
        "strangers": metrics["n_unknown_probes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle URI (folder, s3://, FacialRecognitionTrainFlow/<id>)")
    parser.add_argument("--extra-sizes", type=parse_sizes, default=None, help="default: the bundle's own")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "known_unknown_split.json"))
    args = parser.parse_args()
    started = time.monotonic()
    bundle = load_bundle(args.model)
    preprocess = bundle.preprocess if args.extra_sizes is None else bundle.preprocess.with_extra_sizes(args.extra_sizes)
    people = bundle_people(bundle)
    split = bundle.split
    protocols = {
        "dev": open_set_protocol(people, [n for n in split.dev if len(people[n]) >= 2], split.singles_dev),
        "test": open_set_protocol(people, split.test, split.singles_test),
    }
    paths = sorted({p for gallery, _, probes, _ in protocols.values() for p in gallery + probes})
    embeddings = embed_paths(bundle.encoder, preprocess, paths)
    parts = {part: split_figures(identification_metrics(embeddings, *protocol)) for part, protocol in protocols.items()}
    for part, figures in parts.items():
        print(part, {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}, flush=True)
    write_report(
        {
            **environment(),
            "model": args.model,
            "model_version": bundle.model_version,
            "test_input_sizes": list(preprocess.eval_image_sizes),
            "target": TARGET,
            **parts,
            "seconds": round(time.monotonic() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
