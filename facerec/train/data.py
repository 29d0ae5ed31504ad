"""LFW on disk: scanning, verification and drawing the person-disjoint split."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.split import PersonSplit

LFW_IMAGE_COUNT = 13_233
LFW_PERSON_COUNT = 5_749
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class DatasetError(ValueError):
    """The dataset is missing or is not what it claims to be."""


@dataclass(frozen=True)
class FaceImage:
    path: str
    person: str


def scan_people(root: str | Path) -> dict[str, list[str]]:
    """Map each person (sub-folder name) to their image paths, both sorted.

    The layout is that of the extracted ``lfw-deepfunneled`` archive: ``<root>/<Person_Name>/<Person_Name>_NNNN.jpg``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    people: dict[str, list[str]] = defaultdict(list)
    for person_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for image in sorted(person_dir.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES:
                people[person_dir.name].append(str(image))
    if not people:
        raise DatasetError(f"no <Person_Name>/<image>.jpg files under {root}")
    return dict(people)


def verify_lfw(root: str | Path) -> dict[str, list[str]]:
    """Scan ``root`` and insist on the complete LFW release (13,233 images of 5,749 people)."""
    people = scan_people(root)
    n_images = sum(len(v) for v in people.values())
    if (n_images, len(people)) != (LFW_IMAGE_COUNT, LFW_PERSON_COUNT):
        raise DatasetError(
            f"{root} holds {n_images:,} images of {len(people):,} people; the complete LFW deep-funneled release has "
            f"{LFW_IMAGE_COUNT:,} images of {LFW_PERSON_COUNT:,} people. Re-extract lfw-deepfunneled.tgz "
            "or pass --lfw-dir."
        )
    return people


def multi_image_people(people: dict[str, list[str]], min_images: int = 2) -> list[str]:
    return sorted(name for name, paths in people.items() if len(paths) >= min_images)


def single_image_people(people: dict[str, list[str]]) -> list[str]:
    return sorted(name for name, paths in people.items() if len(paths) == 1)


def check_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be three positive numbers summing to 1, got {fractions}")


def split_people(
    people: dict[str, list[str]],
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 42,
    min_images: int = 2,
) -> PersonSplit:
    """Split people (never images) into train/dev/test; single-image people likewise, separately.

    Names are sorted, shuffled with ``numpy.random.RandomState(seed)`` and cut at ``int(n * fraction)``; the test part
    takes the remainder. On LFW this gives 1,008 / 336 / 336 people and 2,441 / 813 / 815 singles. Moving people
    between train and dev (e.g. 0.7 / 0.1 / 0.2) leaves the test parts exactly as they are.
    """
    check_fractions(fractions)
    parts = _cut(multi_image_people(people, min_images), fractions, seed)
    single_parts = _cut(single_image_people(people), fractions, seed)
    return PersonSplit(*parts, seed, tuple(fractions), *single_parts)


def _cut(names: list[str], fractions: tuple[float, float, float], seed: int) -> list[list[str]]:
    order = np.array(names)
    np.random.RandomState(seed).shuffle(order)
    n = len(order)
    n_train, n_dev = int(n * fractions[0]), int(n * fractions[1])
    shuffled = order.tolist()
    return [
        sorted(shuffled[:n_train]),
        sorted(shuffled[n_train : n_train + n_dev]),
        sorted(shuffled[n_train + n_dev :]),
    ]


def limit_split(split: PersonSplit, max_people: int, seed: int = 0) -> PersonSplit:
    """Keep at most ``max_people`` people per part (quick runs and tests); the split itself is unchanged."""
    rng = np.random.RandomState(seed)

    def pick(names: list[str]) -> list[str]:
        if len(names) <= max_people:
            return names
        return sorted(rng.choice(names, size=max_people, replace=False).tolist())

    return PersonSplit(
        train=pick(split.train),
        dev=pick(split.dev),
        test=pick(split.test),
        seed=split.seed,
        fractions=split.fractions,
        singles_train=pick(split.singles_train),
        singles_dev=pick(split.singles_dev),
        singles_test=pick(split.singles_test),
    )


def images_of(people: dict[str, list[str]], names: list[str]) -> list[FaceImage]:
    return [FaceImage(path, name) for name in names for path in people[name]]


def resolve_dataset(uri: str, cache_root: str | Path | None = None) -> Path:
    """A local dataset folder for ``uri``: the folder itself, or a cached download of an ``s3://`` prefix.

    The download (parallel) happens once per prefix; a completed copy is marked so later steps reuse it.
    """
    if not uri.startswith("s3://"):
        path = Path(uri)
        if not path.is_dir():
            raise DatasetError(
                f"dataset folder not found: {uri}. Run `python project_setup.py` or pass --dataset "
                "(an extracted lfw-deepfunneled folder or the s3:// prefix written by `project_setup.py --upload`)"
            )
        return path
    import re

    from ..storage import S3Config, StorageError, download_folder
    from ..storage import cache_root as storage_cache_root

    root = storage_cache_root(cache_root) / "datasets"
    target = root / re.sub(r"[^A-Za-z0-9._-]+", "_", uri.rstrip("/"))
    marker = target / ".complete"
    if not marker.is_file():
        try:
            count = download_folder(S3Config(), uri, target)
        except StorageError as exc:
            raise DatasetError(f"cannot download the dataset: {exc}") from exc
        marker.write_text(f"{count}\n")
    return target
