"""Training benchmark: the default recipe run once per seed on this machine, reported as mean +- sd, next to
untrained ImageNet Lite0 features on the same protocol.

    python bench/train_benchmark.py --seeds 1 2 3            # runs `metaflow_train.py run --seed S` (~45 min each)
    python bench/train_benchmark.py --run-ids 123 456 789    # reports finished runs instead
    python bench/train_benchmark.py --run-ids 123 -- --image_size 128   # flow parameters after --, when running

Writes bench/results/train_benchmark.json (per-run figures, their mean and sd) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from bench.reporting import FLOW, environment, finished_run, run_training_flow, write_report  # noqa: E402
from facerec.model.encoder import EncoderConfig, create_backbone  # noqa: E402
from facerec.model.split import PersonSplit  # noqa: E402
from facerec.train.calibrate import fit_isotonic  # noqa: E402
from facerec.train.config import Recipe  # noqa: E402
from facerec.train.data import images_of, resolve_dataset, scan_people  # noqa: E402
from facerec.train.evaluation import build_pairs, embed_paths, evaluate_test, pair_similarities  # noqa: E402

SHOWN = [
    ("verification_accuracy", "verification acc", "{:.1%}"),
    ("roc_auc", "ROC AUC", "{:.4f}"),
    ("tar_at_far_1e-3", "TAR@FAR 1e-3", "{:.1%}"),
    ("tar_at_far_1e-2", "TAR@FAR 1e-2", "{:.1%}"),
    ("open_set_rank1", "rank-1", "{:.1%}"),
    ("open_set_known_vs_unknown_auc", "known/unknown AUC", "{:.3f}"),
    ("ece_15_bins", "ECE (pairs)", "{:.3f}"),
]


class ImageNetFeatures(nn.Module):
    """The pretrained backbone's pooled features, L2-normalised: the no-fine-tuning baseline."""

    def __init__(self):
        super().__init__()
        self.config = EncoderConfig(flip_tta=False)
        self.backbone = create_backbone(self.config.backbone, "imagenet")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.backbone(images), dim=1)

    @torch.inference_mode()
    def embed_batch(self, images: torch.Tensor, flip_tta: bool | None = None) -> torch.Tensor:
        self.eval()
        return self(images)


def run_report(run_id: str, wall: float | None) -> dict:
    run, wall = finished_run(run_id, wall)
    data = run.data
    train = data.train_result
    return {
        "run": f"{FLOW}/{run_id}",
        "model_version": data.model_version,
        "seed": data.recipe["train"]["seed"],
        "wall_time_s": wall,
        "recipe": data.recipe,
        "train": {k: v for k, v in train.items() if k != "history"},
        "dev_history": train["history"],
        "test": {k: v for k, v in data.metrics.items() if k not in ("reliability", "open_set")},
        "open_set": data.metrics.get("open_set"),
    }


def baseline_metrics(recipe: Recipe, split: PersonSplit) -> dict:
    """Untrained ImageNet Lite0 features, calibrated on dev pairs like the flow does, on the same test protocol."""
    torch.set_num_threads(os.cpu_count() or 1)
    people = scan_people(resolve_dataset(recipe.dataset))
    baseline = ImageNetFeatures()
    names = split.dev + split.test + split.singles_test
    # eager torch: the baseline is no FaceEncoder, so it has no inference graph to export (the flow's runs use ONNX)
    paths = [item.path for item in images_of(people, names)]
    embeddings = embed_paths(baseline, recipe.preprocess, paths, runtime="torch")
    dev_pairs = build_pairs(people, split.dev, seed=recipe.split_seed)
    calibrator = fit_isotonic(pair_similarities(embeddings, dev_pairs), dev_pairs.labels)
    metrics = evaluate_test(embeddings, people, split.test, split.singles_test, calibrator, recipe.split_seed)
    return {k: v for k, v in metrics.items() if k != "reliability"}


def summary(runs: list[dict]) -> dict:
    """Mean and sd over runs of every numeric test metric, the wall time and the 1-photo open-set figures."""
    keys = [k for k, v in runs[0]["test"].items() if isinstance(v, float | int)]
    table = {k: [r["test"][k] for r in runs] for k in keys}
    table["wall_time_min"] = [r["wall_time_s"] / 60 for r in runs]
    if runs[0].get("open_set"):
        for rule in ("pair", "open_set"):
            for k in ("rank1", "fnir_at_fpir_0.05", "strangers_named", "ece_15_bins"):
                table[f"open_set_1_photo_{rule}_{k}"] = [r["open_set"]["1_photos"][rule][k] for r in runs]
    return {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "values": v}
            for k, v in table.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", help="run the flow once per seed")
    parser.add_argument("--run-ids", nargs="+", help="report these finished runs instead")
    parser.add_argument("--no-baseline", action="store_true", help="skip the ImageNet-features baseline")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_benchmark.json"))
    parser.add_argument("flow_args", nargs="*", help="extra flow parameters, after --")
    args = parser.parse_args()
    if not args.seeds and not args.run_ids:
        parser.error("give --seeds to run the flow, or --run-ids to report finished runs")

    if args.run_ids:
        runs = [run_report(run_id, None) for run_id in args.run_ids]
    else:
        runs = []
        for seed in args.seeds:
            run_id, wall = run_training_flow(["--seed", str(seed), *args.flow_args])
            runs.append(run_report(run_id, wall))
    report = {**environment(), "runs": runs, "summary": summary(runs)}
    if not args.no_baseline:
        print("evaluating the untrained ImageNet Lite0 baseline on the same protocol ...", flush=True)
        data = finished_run(runs[0]["run"].split("/")[-1])[0].data
        report["imagenet_lite0_baseline"] = baseline_metrics(
            Recipe.from_dict(data.recipe), PersonSplit.from_json(data.split_json)
        )
    out = write_report(report, args.out)

    stats = report["summary"]
    print(f"\n{report['machine']}  {report['date']}  {len(runs)} runs: {', '.join(r['run'] for r in runs)}")
    print("| metric | ImageNet Lite0 | default recipe, mean +- sd |\n|---|---|---|")
    for key, label, fmt in SHOWN:
        base = report.get("imagenet_lite0_baseline", {}).get(key)
        print(
            f"| {label} | {fmt.format(base) if base is not None else '-'} | "
            f"{fmt.format(stats[key]['mean'])} +- {fmt.format(stats[key]['sd'])} |"
        )
    print(f"| wall time | - | {stats['wall_time_min']['mean']:.1f} +- {stats['wall_time_min']['sd']:.1f} min |")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
