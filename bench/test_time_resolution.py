"""Test-time input size and crop of a trained encoder, measured on dev people (the flow's eval_scale and
eval_crop_fraction are chosen from this).

Random-resized-crop training shows the encoder faces larger than a plain centre crop does, so a model trained at
160 px may do better at a larger test input (Touvron et al. 2019, "Fixing the train-test resolution discrepancy").

    python bench/test_time_resolution.py --model FacialRecognitionTrainFlow/<run id>
    python bench/test_time_resolution.py --model <bundle> --configs 160:0.68:flip 208:0.72

Each config is SIZE:CROP_FRACTION, with ":flip" for flip test-time augmentation. Dev pairs only: the test people
stay untouched for the reported metrics. Writes bench/results/test_time_resolution.json and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.train import evaluation  # noqa: E402
from facerec.train.data import resolve_dataset, scan_people  # noqa: E402
from facerec.train.metrics import best_threshold  # noqa: E402

DEFAULT_CONFIGS = [
    "160:0.68:flip",
    "160:0.68",
    "176:0.68",
    "192:0.72",
    "208:0.68",
    "208:0.72",
    "208:0.76",
    "224:0.72",
    "208:0.72:flip",
]
DEFAULT_DATASET = ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"


def parse_config(text: str) -> tuple[int, float, bool]:
    size, fraction, *flags = text.split(":")
    if flags not in ([], ["flip"]):
        raise argparse.ArgumentTypeError(f"expected SIZE:CROP_FRACTION[:flip], got {text!r}")
    return int(size), float(fraction), bool(flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle URI (folder, s3://, FacialRecognitionTrainFlow/<id>)")
    parser.add_argument("--dataset", default=os.environ.get("LFW_DIR") or str(DEFAULT_DATASET))
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="SIZE:CROP_FRACTION[:flip] ...")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "test_time_resolution.json"))
    args = parser.parse_args()
    configs = [parse_config(c) for c in args.configs]

    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.model)
    people = scan_people(resolve_dataset(args.dataset))
    pairs = evaluation.build_pairs(people, bundle.split.dev, seed=bundle.split.seed)
    # rank-1 over dev people as in the test protocol (gallery = first image of each), without unknown probes
    gallery_paths, gallery_labels, probe_paths, probe_labels = evaluation.open_set_protocol(
        people, bundle.split.dev, []
    )
    paths = sorted(set(pairs.paths) | set(gallery_paths) | set(probe_paths))
    # the bundle's preprocess config holds the training input and the served (test) input side by side
    train_preprocess = {"image_size": bundle.preprocess.image_size, "crop_fraction": bundle.preprocess.crop_fraction}
    print(
        f"{len(bundle.split.dev)} dev people, {len(pairs.pairs)} pairs, {len(probe_paths)} rank-1 probes, "
        f"{len(paths)} images",
        flush=True,
    )

    rows = []
    for size, fraction, flip in configs:
        preprocess = dataclasses.replace(bundle.preprocess, test_image_size=size, test_crop_fraction=fraction)
        started = time.perf_counter()
        with torch.inference_mode():
            embeddings = evaluation.embed_paths(bundle.encoder, preprocess, paths, flip_tta=flip)
        seconds = time.perf_counter() - started
        similarities = evaluation.pair_similarities(embeddings, pairs)
        identification = evaluation.identification_metrics(
            embeddings, gallery_paths, gallery_labels, probe_paths, probe_labels
        )
        rows.append(
            {
                "image_size": size,
                "crop_fraction": fraction,
                "flip_tta": flip,
                "dev_auc": float(roc_auc_score(pairs.labels, similarities)),
                "dev_accuracy": best_threshold(similarities, pairs.labels)[1],
                "dev_rank1": identification["open_set_rank1"],
                # relative encoder work per face, against 160 px without flip
                "relative_compute": (size / 160) ** 2 * (2 if flip else 1),
                "ms_per_image": 1000 * seconds / len(paths),
            }
        )
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()), flush=True)

    report = {
        **environment(),
        "model": args.model,
        "model_version": bundle.model_version,
        "preprocess": bundle.preprocess.to_dict() | {"flip_tta": bundle.encoder.config.flip_tta},
        "threads": args.threads,
        "dev_people": len(bundle.split.dev),
        "dev_pairs": len(pairs.pairs),
        "dev_rank1_probes": len(probe_paths),
        "results": rows,
    }
    out = write_report(report, args.out)

    print(f"\n{args.model}  {report['machine']}  {report['date']}  (trained with {train_preprocess})")
    print(
        "\n| input px | crop | flip TTA | dev AUC | dev acc | dev rank-1 | compute | ms/image (embed, incl. decode) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['image_size']} | {r['crop_fraction']:.2f} | {'yes' if r['flip_tta'] else 'no'} | "
            f"{r['dev_auc']:.4f} | {r['dev_accuracy']:.1%} | {r['dev_rank1']:.1%} | "
            f"{r['relative_compute']:.2f}x | {r['ms_per_image']:.1f} |"
        )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
