"""Is the default recipe limited by its CPU time budget? The same recipe for its whole schedule and for a longer one,
on a GPU, measured on the dev people.

On the 2-core VM the default run stops on its 38-minute budget at 1,320-1,672 of its 1,770 steps (10 epochs). A GPU
runs the whole schedule in about a minute, and three times as long in a few. Two subcommands:

    python bench/schedule_length_benchmark.py pack --out DIR     # here, beside ../shared/lfw
    python bench/schedule_length_benchmark.py run --data DIR --epochs 10 30 --out X.json   # on the GPU machine

``pack`` writes what the run needs and LFW itself cannot (``bench.lfw_pack``: the training people's, dev people's
and dev strangers' photos as the region training can reach, at 192 px by default, that region's size at the
160 px input of the day these runs were made). ``run`` trains with the default ``TrainConfig`` and that input, each
``--epochs`` value with no time budget, and measures dev as the flow does (same pairs, galleries and strangers).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lfw_pack import DEFAULT_FRACTIONS, fractions_name, load, pack, pack_or_run_parser  # noqa: E402
from bench.reporting import environment, write_report  # noqa: E402
from facerec.train.config import Recipe  # noqa: E402
from facerec.train.evaluation import DevProtocol  # noqa: E402
from facerec.train.training import train  # noqa: E402


def run(
    data: Path,
    epochs: list[int],
    evals_per_epoch: list[int],
    workers: int,
    out: Path,
    max_steps: int = 0,
    seed: int | None = None,
) -> None:
    packed = load(data)
    meta, people = packed.meta, packed.people
    split = packed.splits[fractions_name(DEFAULT_FRACTIONS)]
    teacher = packed.teacher_of(split.train)
    recipe = Recipe(dataset=str(data))
    preprocess = packed.preprocess(recipe.preprocess)
    dev = DevProtocol.build(people, split.dev, split.singles_dev, seed=recipe.split_seed)
    report = {
        **environment(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "pack": meta,
        "dev": {"people": len(split.dev), "strangers": len(split.singles_dev), "pairs": len(dev.pairs.labels)},
        "runs": [],
    }
    for count, evals in zip(epochs, evals_per_epoch, strict=True):
        config = replace(
            recipe.train,
            epochs=count,
            max_minutes=0,
            evals_per_epoch=evals,
            num_workers=workers,
            max_steps=max_steps,
            seed=recipe.train.seed if seed is None else seed,
        )
        encoder = packed.initial_encoder()
        started = time.monotonic()
        result = train(encoder, people, split.train, dev, preprocess, config, progress=False, teacher=teacher)
        final = dev.measure(encoder, preprocess, flip_tta=True)  # the selected weights, as served (flip averaging)
        wall = round(time.monotonic() - started, 1)
        entry = {"epochs": count, "evals_per_epoch": evals, "seed": config.seed, "wall_seconds": wall,
                 **result.to_dict(), "selected_dev_with_flip": final}  # fmt: skip
        print({k: v for k, v in entry.items() if k != "history"}, flush=True)
        report["runs"].append(entry)
        write_report(report, out)  # after every run: a run cut short by its time limit keeps the ones before
    print("wrote", out)


def main() -> None:
    # 192 px: the reachable region at a 160 px input
    out = ROOT / "bench" / "results" / "schedule_length_benchmark.json"
    parser, running = pack_or_run_parser(__doc__.split("\n\n")[0], side=192, quality=85, out=out)
    running.add_argument("--epochs", type=int, nargs="+", default=[10, 30])
    running.add_argument("--evals-per-epoch", type=int, nargs="+", default=[1, 0], help="one per --epochs value")
    running.add_argument("--seed", type=int, default=None, help="training seed (default: the recipe's)")
    running.add_argument("--max-steps", type=int, default=0, help="stop each run here (0 = its epochs; smoke tests)")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.out, args.side, args.quality, [])
    else:
        run(args.data, args.epochs, args.evals_per_epoch, args.workers, args.out, args.max_steps, args.seed)


if __name__ == "__main__":
    main()
