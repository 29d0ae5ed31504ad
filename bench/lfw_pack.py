"""LFW packed for a GPU machine: what a training run there needs, small enough for the transfer (64 MiB).

LFW itself does not fit the transfer to a GPU machine. ``pack`` (run here, beside ../shared/lfw) stores the photos of
the default split's training people, dev people and dev strangers (never a test person) as the central region the
training augmentation can reach (``crop_fraction x 1.2`` of each side, the rotation margin of
``facerec.train.augment``) at ``side`` px, as WebP at ``quality``; the splits of every ``fractions`` asked for (the
test part is the same for all of them: ``split_people`` cuts the same shuffled order); the teacher's descriptors of
every photo a training part of those splits holds; and the encoder's initial weights (ImageNet backbone), in half
precision. ``load`` (run there) reads it back for ``facerec.train.training.train`` and ``DevProtocol``, with the
preprocessing restated for the stored region, so the same share of the face is cropped (resampled once more).

The recompressed photos are not LFW's JPEGs: compare runs on a pack with one another, and with the VM's full runs
only roughly.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facerec.model.encoder import FaceEncoder
from facerec.model.preprocess import CenterFraction, PreprocessConfig
from facerec.model.split import PersonSplit
from facerec.train.augment import reachable_region
from facerec.train.config import Recipe
from facerec.train.data import scan_people, split_people

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)


def photo_key(path: str) -> str:
    """``Person/stem``: one photo's key in LFW and in the pack (another suffix and size, so not the teacher cache's)."""
    return f"{Path(path).parent.name}/{Path(path).stem}"


def fractions_name(fractions: tuple[float, ...]) -> str:
    return "-".join(f"{f:g}" for f in fractions)


def pack(out: Path, side: int, quality: int, fractions: list[tuple[float, float, float]]) -> None:
    """Write the pack to ``out`` (the module docstring says what it holds)."""
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    from facerec.train.teacher import teacher_descriptors

    recipe = Recipe(dataset=str(LFW))
    people = scan_people(LFW)
    default = split_people(people, DEFAULT_FRACTIONS, recipe.split_seed)
    splits = {fractions_name(f): split_people(people, f, recipe.split_seed) for f in [DEFAULT_FRACTIONS, *fractions]}
    stored = set(default.train + default.dev + default.singles_dev)
    for name, split in splits.items():
        if split.test != default.test or not set(split.train + split.dev + split.singles_dev) <= stored:
            raise ValueError(f"split {name} does not keep the default split's test people out of the rest")
    region = reachable_region(recipe.preprocess.crop_fraction)
    for name in sorted(stored):
        (out / "faces" / name).mkdir(parents=True, exist_ok=True)
        for path in people[name]:
            with Image.open(path) as image:
                crop = CenterFraction(region)(image.convert("RGB")).resize((side, side), Image.BICUBIC)
                crop.save(out / "faces" / name / (Path(path).stem + ".webp"), "WEBP", quality=quality)
    (out / "splits").mkdir(exist_ok=True)
    for name, split in splits.items():
        (out / "splits" / f"{name}.json").write_text(split.to_json())
    trained = sorted({n for split in splits.values() for n in split.train})
    teacher = teacher_descriptors(people, trained)
    keys = [photo_key(p) for p in teacher]
    np.savez(out / "teacher.npz", keys=np.array(keys), vectors=np.stack(list(teacher.values())).astype(np.float16))
    torch.manual_seed(recipe.train.seed)
    encoder = FaceEncoder(recipe.encoder, pretrained=recipe.pretrained)
    # half precision: the transfer's size limit (a relative rounding of ~5e-4 on the initial weights)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in encoder.state_dict().items()}
    save_file(state, str(out / "encoder_init.safetensors"))
    meta = {"region": region, "side": side, "quality": quality, "crop_fraction": recipe.preprocess.crop_fraction,
            "image_size": recipe.preprocess.image_size, "splits": sorted(splits)}  # fmt: skip
    (out / "meta.json").write_text(json.dumps(meta))
    print(f"packed {sum(len(people[n]) for n in stored):,} photos of {len(stored):,} people into {out}")


@dataclass
class Pack:
    meta: dict
    people: dict[str, list[str]]
    splits: dict[str, PersonSplit]
    teacher: dict[str, np.ndarray]  # by photo_key
    folder: Path

    def preprocess(self, base: PreprocessConfig) -> PreprocessConfig:
        """``base`` with its crop fraction restated for the stored region: the same central share of the face."""
        return replace(base, crop_fraction=self.meta["crop_fraction"] / self.meta["region"])

    def teacher_of(self, names: list[str]) -> dict[str, np.ndarray]:
        """The teacher's descriptors by pack path, for the photos of ``names``."""
        return {p: self.teacher[photo_key(p)] for n in names for p in self.people[n]}

    def initial_encoder(self) -> FaceEncoder:
        from safetensors.torch import load_file

        from facerec.model.encoder import EncoderConfig

        encoder = FaceEncoder(EncoderConfig(), pretrained="none")
        state = load_file(str(self.folder / "encoder_init.safetensors"))
        encoder.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        return encoder


def load(folder: Path) -> Pack:
    meta = json.loads((folder / "meta.json").read_text())
    if (folder / "splits").is_dir():
        splits = {p.stem: PersonSplit.from_json(p.read_text()) for p in sorted((folder / "splits").glob("*.json"))}
    else:  # packs written before several splits travelled: the default split alone
        splits = {fractions_name(DEFAULT_FRACTIONS): PersonSplit.from_json((folder / "split.json").read_text())}
    with np.load(folder / "teacher.npz") as stored:
        teacher = dict(zip(stored["keys"].tolist(), stored["vectors"].astype(np.float32), strict=True))
    return Pack(meta, scan_people(folder / "faces"), splits, teacher, folder)


def pack_or_run_parser(
    description: str, side: int, quality: int, out: Path
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command line GPU benchmarks share: ``pack --out --side --quality`` here, ``run --data --out`` there.

    Returns the parser and the ``run`` sub-parser, for the benchmark's own run options.
    """
    parser = argparse.ArgumentParser(description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack")
    packing.add_argument("--out", type=Path, required=True)
    packing.add_argument("--side", type=int, default=side, help="stored side, px")
    packing.add_argument("--quality", type=int, default=quality, help="WebP quality")
    running = commands.add_parser("run")
    running.add_argument("--data", type=Path, required=True, help="a pack written by the pack command")
    running.add_argument("--workers", type=int, default=8)
    running.add_argument("--out", type=Path, default=out)
    return parser, running
