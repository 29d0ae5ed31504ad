"""Training benchmark: the default flow run on this machine, next to untrained ImageNet Lite0 features.

    python bench/train_benchmark.py                  # runs `metaflow_train.py run` with the defaults (~45 min)
    python bench/train_benchmark.py --run-id 123     # reports an existing run instead

Writes bench/results/train_benchmark.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.encoder import EncoderConfig, create_backbone  # noqa: E402
from facerec.model.split import PersonSplit  # noqa: E402
from facerec.train.calibrate import fit_isotonic  # noqa: E402
from facerec.train.config import Recipe  # noqa: E402
from facerec.train.data import resolve_dataset, scan_people  # noqa: E402
from facerec.train.evaluation import build_pairs, evaluate_test, evaluate_verification  # noqa: E402

FLOW = "FacialRecognitionTrainFlow"
SHOWN = [
    ("verification_accuracy", "verification acc", "{:.1%}"),
    ("roc_auc", "ROC AUC", "{:.4f}"),
    ("tar_at_far_1e-3", "TAR@FAR 1e-3", "{:.1%}"),
    ("tar_at_far_1e-2", "TAR@FAR 1e-2", "{:.1%}"),
    ("open_set_rank1", "open-set rank-1", "{:.1%}"),
    ("open_set_known_vs_unknown_auc", "known/unknown AUC", "{:.4f}"),
    ("ece_15_bins", "ECE (15 bins)", "{:.4f}"),
    ("brier", "Brier", "{:.4f}"),
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


def run_flow(extra_args: list[str]) -> tuple[str, float]:
    started = time.monotonic()
    cmd = [sys.executable, str(ROOT / "metaflow_train.py"), "--no-pylint", "run", *extra_args]
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    wall = time.monotonic() - started
    from metaflow import Flow, namespace

    namespace(None)
    return Flow(FLOW).latest_successful_run.id, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-id", help="report this finished run instead of starting one")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_benchmark.json"))
    parser.add_argument("flow_args", nargs="*", help="extra flow parameters, after --")
    args = parser.parse_args()

    from metaflow import Run, namespace

    wall = None
    run_id = args.run_id
    if run_id is None:
        run_id, wall = run_flow(args.flow_args)
    namespace(None)
    run = Run(f"{FLOW}/{run_id}")
    if wall is None and run.finished_at:
        wall = (run.finished_at - run.created_at).total_seconds()
    data = run.data
    split = PersonSplit.from_json(data.split_json)
    recipe = Recipe.from_dict(data.recipe)
    preprocess = recipe.preprocess

    print("evaluating the untrained ImageNet Lite0 baseline on the same pairs ...", flush=True)
    torch.set_num_threads(os.cpu_count() or 1)
    people = scan_people(resolve_dataset(recipe.dataset))
    baseline = ImageNetFeatures()
    dev_pairs = build_pairs(people, split.dev, seed=split.seed)
    baseline_calibrator = fit_isotonic(evaluate_verification(baseline, preprocess, dev_pairs), dev_pairs.labels)
    baseline_metrics = evaluate_test(
        baseline, preprocess, people, split.test, split.singles_test, baseline_calibrator, split.seed
    )

    train = data.train_result
    report = {
        **environment(),
        "run": f"{FLOW}/{run_id}",
        "model_version": data.model_version,
        "wall_time_s": wall,
        "train": {k: v for k, v in train.items() if k != "history"},
        "dev_history": train["history"],
        "recipe": data.recipe,
        "fine_tuned": {k: v for k, v in data.metrics.items() if k != "reliability"},
        "imagenet_lite0_baseline": {k: v for k, v in baseline_metrics.items() if k != "reliability"},
    }
    out = write_report(report, args.out)

    print(f"\n{report['run']}  {report['machine']}  {report['date']}")
    if train.get("teacher"):
        print(f"distilled from {train['teacher']}; its descriptors took {train['teacher_seconds']:.0f} s this run")
    print(
        f"wall time {wall / 60:.1f} min; training {train['train_seconds'] / 60:.1f} min, "
        f"{train['images_per_second']:.1f} images/s, {train['steps']} steps ({train['stop_reason']})"
    )
    print(f"\n| metric | ImageNet Lite0, no fine-tuning | fine-tuned ({data.model_version}) |\n|---|---|---|")
    for key, label, fmt in SHOWN:
        print(f"| {label} | {fmt.format(baseline_metrics[key])} | {fmt.format(data.metrics[key])} |")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
