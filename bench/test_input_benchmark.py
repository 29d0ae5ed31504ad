"""The test input of a trained encoder: one size, or several whose embeddings are averaged (multi-scale test-time
augmentation), each measured as the flow's evaluate step measures a run.

    python bench/test_input_benchmark.py --model FacialRecognitionTrainFlow/<run> --extra-sizes 224 \
        --out bench/results/test_input_benchmark_<run>.json

The same weights, two inputs: the bundle's own (its training size, flip-averaged) and that input with the extra
sizes. For each, as served (ONNX Runtime, flip averaging): dev figures (what the choice rests on: dev AUC, rank-1,
the detection rate at FPIR 5% and known-vs-unknown AUC, each dev person enrolled with their first photo), then both
calibrators fitted on dev and every test figure of the flow's evaluate step (:func:`facerec.train.assessment.assess`:
verification, identification, pair ECE, both open-set rules with 1 / 2 / 3 photos on the crops). Model selection
does not change: it measures the main input alone. Time per photo: embedding every photo assess() reads.
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

from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.model.preprocess import parse_sizes  # noqa: E402
from facerec.train.assessment import assess  # noqa: E402
from facerec.train.evaluation import DevProtocol, identification_metrics  # noqa: E402

TEST_KEYS = ("verification_accuracy", "roc_auc", "tar_at_far_1e-3", "open_set_rank1",
             "open_set_known_vs_unknown_auc", "ece_15_bins")  # fmt: skip


def dev_figures(protocol: DevProtocol, embeddings) -> dict:
    figures = protocol.scores(embeddings)
    first_photos = identification_metrics(embeddings, *protocol.galleries[0])
    return figures | {"dev_known_vs_unknown_auc": first_photos["open_set_known_vs_unknown_auc"]}


def open_set_summary(open_set: dict) -> dict:
    """Per gallery and rule: rank-1, named right at FPIR 1% / 5%, and what the default threshold does."""
    keys = ("rank1", "fnir_at_fpir_0.01", "fnir_at_fpir_0.05", "strangers_named", "known_named_correctly",
            "known_named_wrongly", "ece_15_bins")  # fmt: skip
    return {
        gallery: {rule: {k: result[rule][k] for k in keys} for rule in ("pair", "open_set")}
        for gallery, result in open_set.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle URI (folder, s3://, FacialRecognitionTrainFlow/<id>)")
    parser.add_argument("--extra-sizes", type=parse_sizes, default=(224,), help="sizes averaged with the main one")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "test_input_benchmark.json"))
    args = parser.parse_args()
    started = time.monotonic()
    bundle = load_bundle(args.model)
    people = bundle_people(bundle)
    split, seed = bundle.split, bundle.split.seed
    protocol = DevProtocol.build(people, [n for n in split.dev if len(people[n]) >= 2], split.singles_dev, seed=seed)
    inputs = {
        "one size": replace(bundle.preprocess, test_extra_sizes=()),
        "with extra sizes": replace(bundle.preprocess, test_extra_sizes=args.extra_sizes),
    }
    arms = {}
    for arm, preprocess in inputs.items():
        preprocess.validate()
        print(f"{arm}: test input sizes {preprocess.eval_image_sizes} ...", flush=True)
        assessment = assess(bundle.encoder, preprocess, people, split, seed)
        arms[arm] = {
            "test_input_sizes": list(preprocess.eval_image_sizes),
            "ms_per_photo": 1000 * assessment.embed_seconds / len(assessment.embeddings),
            "dev": dev_figures(protocol, assessment.embeddings),
            "test": {k: assessment.metrics[k] for k in TEST_KEYS},
            "test_open_set": open_set_summary(assessment.metrics["open_set"]),
            "open_set_threshold": assessment.calibration.open_set.threshold,
        }
        print(arm, {k: round(v, 4) for k, v in (arms[arm]["dev"] | arms[arm]["test"]).items()}, flush=True)
    write_report(
        {
            **environment(),
            "model": args.model,
            "model_version": bundle.model_version,
            "train_input": bundle.preprocess.image_size,
            "dev_people": len(protocol.galleries[0][0]),
            "dev_strangers": len(split.singles_dev),
            "test_people": len(split.test),
            "test_strangers": len(split.singles_test),
            "arms": arms,
            "seconds": round(time.monotonic() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
