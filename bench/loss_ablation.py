"""Short training runs that compare training recipes at a fixed step budget, on dev people only.

    python bench/loss_ablation.py                                   # the configurations below, 400 steps each
    python bench/loss_ablation.py --steps 500 --configs triplet:distill_weight=0 singles:singles_per_batch=8

Each configuration = NAME[:KEY=VALUE,KEY=VALUE...] over the default TrainConfig (facerec/train/config.py); the key
``fractions`` (e.g. ``0.7/0.1/0.2``) trains on another split's train part; ``seed`` another training seed on the same
split (to see how far two seeds of one recipe differ). Every configuration is measured on the same
dev people and dev strangers: those of ``--dev-fractions`` (default: the default split's), which must not overlap
any configuration's training people. The schedule (warm-up + cosine) is compressed into ``--steps``, so the numbers
rank recipes; they are not what a full run reaches. Counting steps rather than minutes keeps runs comparable when
the machine is busy. Writes bench/results/loss_ablation.json (or --out) and prints a table.
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

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.encoder import EncoderConfig, FaceEncoder  # noqa: E402
from facerec.model.preprocess import PreprocessConfig  # noqa: E402
from facerec.train.config import TrainConfig  # noqa: E402
from facerec.train.data import scan_people, split_people  # noqa: E402
from facerec.train.evaluation import DevProtocol  # noqa: E402
from facerec.train.teacher import TEACHER_ID, teacher_descriptors  # noqa: E402
from facerec.train.training import train  # noqa: E402

DEFAULT_CONFIGS = ["triplet:distill_weight=0,centre_weight=0", "relation:centre_weight=0", "default"]
SHOWN = ["dev_auc", "dev_accuracy", "dev_rank1", "dev_dir_at_fpir_0.05"]


def parse_fractions(text: str) -> tuple[float, float, float]:
    return tuple(float(x) for x in text.split("/"))  # type: ignore[return-value]


def parse_config(spec: str) -> tuple[str, dict]:
    name, _, assignments = spec.partition(":")
    fields = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    changes: dict = {}
    for assignment in filter(None, assignments.split(",")):
        key, value = assignment.split("=", 1)
        if key == "fractions":
            changes[key] = parse_fractions(value)
        elif fields[key] in ("int", int):
            changes[key] = int(value)
        elif fields[key] in ("float", float):
            changes[key] = float(value)
        elif fields[key] in ("bool", bool):
            changes[key] = value.lower() in ("1", "true", "yes")
        else:
            changes[key] = value
    return name, changes


def run_config(spec: str, steps: int, people: dict, dev: DevProtocol, dev_names: set[str], seed: int) -> dict:
    name, changes = parse_config(spec)
    split = split_people(people, changes.pop("fractions", (0.6, 0.2, 0.2)), seed)
    if dev_names & (set(split.train) | set(split.singles_train)):
        raise SystemExit(f"{name}: its training people overlap the dev people the ablation measures on")
    # no early stop: every configuration sees the same steps; ``seed=`` in a configuration changes the training seed
    # (initialisation, batches) and keeps the measured split
    config = TrainConfig(**({"max_steps": steps, "max_minutes": 0, "patience": steps, "seed": seed} | changes))
    teacher = None
    if config.needs_teacher:
        teacher = teacher_descriptors(people, split.train + (split.singles_train if config.uses_singles else []))
    encoder = FaceEncoder(EncoderConfig())
    preprocess = encoder.default_preprocess()
    started = time.monotonic()
    result = train(
        encoder,
        people,
        split.train,
        dev,
        preprocess,
        config,
        progress=False,
        on_eval=lambda r: print(name, {k: round(v, 4) for k, v in r.items() if isinstance(v, float)}, flush=True),
        teacher=teacher,
        train_singles=split.singles_train,
    )
    best = next(r for r in result.history if r["step"] == result.best_step)
    return {
        "name": name,
        "spec": spec,
        "config": config.to_dict(),
        "train_people": len(split.train),
        "train_singles": len(split.singles_train) if config.uses_singles else 0,
        "steps": result.steps,
        "best_step": result.best_step,
        "best": {k: best.get(k) for k in SHOWN},
        "max": {k: max((r[k] for r in result.history if k in r), default=None) for k in SHOWN},
        "images_per_second": result.images_per_second,
        "wall_s": time.monotonic() - started,
        "history": result.history,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dataset = os.environ.get("LFW_DIR") or str(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    parser.add_argument("--dataset", default=default_dataset)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dev-fractions", default="0.6/0.2/0.2", help="the split whose dev part measures every run")
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    parser.add_argument("--dev-gallery-draws", type=int, default=TrainConfig.dev_gallery_draws,
                        help="dev galleries every evaluation averages over (shared by all configurations)")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "loss_ablation.json"))
    args = parser.parse_args()

    people = scan_people(args.dataset)
    measured = split_people(people, parse_fractions(args.dev_fractions), args.seed)
    if any("dev_gallery_draws" in spec for spec in args.configs):
        parser.error("the dev protocol is shared by every configuration: use --dev-gallery-draws")
    dev = DevProtocol.build(
        people, measured.dev, measured.singles_dev, seed=args.seed, gallery_draws=args.dev_gallery_draws
    )
    dev_names = set(measured.dev) | set(measured.singles_dev)
    runs = [run_config(spec, args.steps, people, dev, dev_names, args.seed) for spec in args.configs]
    report = {
        **environment(),
        "teacher": TEACHER_ID,
        "steps": args.steps,
        "dev_gallery_draws": args.dev_gallery_draws,
        "seed": args.seed,
        "preprocess": PreprocessConfig().to_dict(),
        "dev_fractions": args.dev_fractions,
        "dev_people": len(measured.dev),
        "dev_strangers": len(measured.singles_dev),
        "dev_pairs": len(dev.pairs.labels),
    }
    out = write_report(report | {"runs": runs}, args.out)

    print(f"\n{report['machine']}  {report['date']}  {args.steps} steps; dev: {report['dev_people']} people, ")
    print(f"{report['dev_strangers']} strangers, {report['dev_pairs']:,} pairs (metrics at the selected step)")
    columns = ["configuration", "train people (+ singles)", "dev AUC", "dev acc", "dev rank-1", "dev DIR@FPIR 0.05"]
    print("| " + " | ".join([*columns, "step", "img/s"]) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        b = run["best"]
        print(
            f"| {run['spec']} | {run['train_people']} (+{run['train_singles']}) | {b['dev_auc']:.4f} | "
            f"{b['dev_accuracy']:.1%} | {b['dev_rank1']:.1%} | {b['dev_dir_at_fpir_0.05']:.1%} | "
            f"{run['best_step']} | {run['images_per_second']:.1f} |"
        )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
