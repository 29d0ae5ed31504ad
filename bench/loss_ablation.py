"""Short training runs that compare losses at a fixed step budget, on dev people only.

    python bench/loss_ablation.py                                  # the four configurations below, 400 steps each
    python bench/loss_ablation.py --steps 200 --configs triplet:0 relation_1:1:relation

Each configuration = NAME:DISTILL_WEIGHT[:DISTILL_MODE]. The schedule (warm-up + cosine) is compressed into
``--steps``, so the numbers rank losses; they are not what a full run reaches. Counting steps rather than minutes keeps
runs comparable when the machine is busy. About 7-8 minutes per configuration on 2 cores.
Writes bench/results/loss_ablation.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.encoder import FaceEncoder  # noqa: E402
from facerec.train.data import scan_people, split_people  # noqa: E402
from facerec.train.evaluation import build_pairs  # noqa: E402
from facerec.train.teacher import TEACHER_ID, teacher_descriptors  # noqa: E402
from facerec.train.training import TrainConfig, train  # noqa: E402

DEFAULT_CONFIGS = ["triplet:0", "relation_1:1:relation", "relation_4:4:relation", "embedding_1:1:embedding"]


def run_config(spec: str, steps: int, people: dict, split, dev_pairs, teacher: dict) -> dict:
    name, weight, *mode = spec.split(":")
    config = TrainConfig(
        max_steps=steps,
        evals_per_epoch=2,
        patience=steps,  # no early stop: every configuration sees the same steps
        distill_weight=float(weight),
        distill_mode=mode[0] if mode else "relation",
    )
    encoder = FaceEncoder()
    preprocess = encoder.default_preprocess(160, 0.68)
    started = time.monotonic()
    result = train(
        encoder,
        people,
        split.train,
        dev_pairs,
        preprocess,
        config,
        progress=False,
        on_eval=lambda record: print(name, {k: round(v, 4) for k, v in record.items()}, flush=True),
        teacher=teacher if config.distill_weight else None,
    )
    return {
        "name": name,
        "distill_weight": config.distill_weight,
        "distill_mode": config.distill_mode if config.distill_weight else None,
        "steps": result.steps,
        "best_dev_auc": result.best_dev_auc,
        "best_step": result.best_step,
        "images_per_second": result.images_per_second,
        "wall_s": time.monotonic() - started,
        "history": result.history,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dataset = os.environ.get("LFW_DIR") or str(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    parser.add_argument("--dataset", default=default_dataset)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "loss_ablation.json"))
    args = parser.parse_args()

    people = scan_people(args.dataset)
    split = split_people(people)
    dev_pairs = build_pairs(people, split.dev, seed=split.seed)
    teacher = teacher_descriptors(people, split.train)
    runs = [run_config(spec, args.steps, people, split, dev_pairs, teacher) for spec in args.configs]
    report = {**environment(), "teacher": TEACHER_ID, "steps": args.steps, "dev_pairs": len(dev_pairs.labels)}
    out = write_report(report | {"runs": runs}, args.out)

    print(f"\n{report['machine']}  {report['date']}  {args.steps} steps, {report['dev_pairs']:,} dev pairs")
    print("| configuration | distill weight | mode | best dev AUC | at step | images/s |\n|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run['name']} | {run['distill_weight']:g} | {run['distill_mode'] or '-'} | "
            f"{run['best_dev_auc']:.4f} | {run['best_step']} | {run['images_per_second']:.1f} |"
        )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
