"""Is the default recipe limited by its CPU time budget? The same recipe for its whole schedule and for a longer one,
on a GPU, measured on the dev people.

On the 2-core VM the default run stops on its 38-minute budget at 1,320-1,672 of its 1,770 steps (10 epochs). A GPU
runs the whole schedule in about a minute, and three times as long in a few. Two subcommands:

    python bench/schedule_length_benchmark.py pack --out DIR     # here, beside ../shared/lfw
    python bench/schedule_length_benchmark.py run --data DIR --epochs 10 30 --out X.json   # on the GPU machine

``pack`` writes what the run needs and LFW itself cannot (it does not fit the transfer to a GPU machine): the
training people's, dev people's and dev strangers' photos as the central region the training augmentation can
reach (``crop_fraction x 1.2`` of each side, the rotation margin of ``facerec.train.augment``), resized to 192 px
(that region's size at the 160 px training input) and stored as WebP at quality 85; the split; the teacher's
descriptors of the training photos; and the encoder's initial weights (ImageNet backbone), in half precision.
``run`` trains with the default ``TrainConfig`` and that input (its crop fraction restated for the stored region,
so the same region is cropped, resampled once more), each ``--epochs``
value with no time budget, and measures dev as the flow does (same pairs, galleries and strangers). The
recompressed photos are not LFW's JPEGs: compare the runs with one another, and with the VM's full runs only
roughly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.encoder import EncoderConfig, FaceEncoder  # noqa: E402
from facerec.model.preprocess import CenterFraction  # noqa: E402
from facerec.model.split import PersonSplit  # noqa: E402
from facerec.train.augment import reachable_region  # noqa: E402
from facerec.train.config import Recipe  # noqa: E402
from facerec.train.data import scan_people, split_people  # noqa: E402
from facerec.train.evaluation import DevProtocol  # noqa: E402
from facerec.train.training import train  # noqa: E402

LFW = ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"
SIDE, QUALITY = 192, 85


def photo_key(path: str) -> str:
    """``Person/stem``: one photo's key in LFW and in the pack (another suffix and size, so not the teacher cache's)."""
    return f"{Path(path).parent.name}/{Path(path).stem}"


def pack(out: Path) -> None:
    from PIL import Image
    from safetensors.torch import save_file

    from facerec.train.teacher import teacher_descriptors

    recipe = Recipe(dataset=str(LFW))
    people = scan_people(LFW)
    split = split_people(people, recipe.fractions, recipe.split_seed)
    region = reachable_region(recipe.preprocess.crop_fraction)
    names = split.train + split.dev + split.singles_dev
    for name in names:
        (out / "faces" / name).mkdir(parents=True, exist_ok=True)
        for path in people[name]:
            with Image.open(path) as image:
                crop = CenterFraction(region)(image.convert("RGB")).resize((SIDE, SIDE), Image.BICUBIC)
                crop.save(out / "faces" / name / (Path(path).stem + ".webp"), "WEBP", quality=QUALITY)
    (out / "split.json").write_text(split.to_json())
    teacher = teacher_descriptors(people, split.train)
    keys = [photo_key(p) for p in teacher]
    np.savez(out / "teacher.npz", keys=np.array(keys), vectors=np.stack(list(teacher.values())).astype(np.float16))
    torch.manual_seed(recipe.train.seed)
    encoder = FaceEncoder(recipe.encoder, pretrained=recipe.pretrained)
    # half precision: the transfer's size limit (a relative rounding of ~5e-4 on the initial weights)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in encoder.state_dict().items()}
    save_file(state, str(out / "encoder_init.safetensors"))
    meta = {"region": region, "side": SIDE, "quality": QUALITY, "crop_fraction": recipe.preprocess.crop_fraction}
    (out / "meta.json").write_text(json.dumps(meta))
    print(f"packed {sum(len(people[n]) for n in names):,} photos of {len(names):,} people into {out}")


def run(
    data: Path,
    epochs: list[int],
    evals_per_epoch: list[int],
    workers: int,
    out: Path,
    max_steps: int = 0,
    seed: int | None = None,
) -> None:
    from safetensors.torch import load_file

    meta = json.loads((data / "meta.json").read_text())
    split = PersonSplit.from_json((data / "split.json").read_text())
    people = scan_people(data / "faces")
    with np.load(data / "teacher.npz") as stored:
        by_key = dict(zip(stored["keys"].tolist(), stored["vectors"].astype(np.float32), strict=True))
    teacher = {p: by_key[photo_key(p)] for n in split.train for p in people[n]}
    recipe = Recipe(dataset=str(data))
    # the stored photo is the region training can reach: the same central share of the face, restated for it
    preprocess = replace(recipe.preprocess, crop_fraction=meta["crop_fraction"] / meta["region"])
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
        encoder = FaceEncoder(EncoderConfig(), pretrained="none")
        state = load_file(str(data / "encoder_init.safetensors"))
        encoder.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack")
    packing.add_argument("--out", type=Path, required=True)
    running = commands.add_parser("run")
    running.add_argument("--data", type=Path, required=True)
    running.add_argument("--epochs", type=int, nargs="+", default=[10, 30])
    running.add_argument("--evals-per-epoch", type=int, nargs="+", default=[1, 0], help="one per --epochs value")
    running.add_argument("--workers", type=int, default=8)
    running.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "schedule_length_benchmark.json")
    running.add_argument("--seed", type=int, default=None, help="training seed (default: the recipe's)")
    running.add_argument("--max-steps", type=int, default=0, help="stop each run here (0 = its epochs; smoke tests)")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.out)
    else:
        run(args.data, args.epochs, args.evals_per_epoch, args.workers, args.out, args.max_steps, args.seed)


if __name__ == "__main__":
    main()
