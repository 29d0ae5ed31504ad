"""Synthetic stand-ins for faces and models, so that logic can be tested in seconds without LFW.

* :func:`synthetic_face`: an LFW-shaped 250 px image per (person, photo): a person is a seeded smooth pattern, their
  photos are small shifts and brightness changes of it. Different people look unlike, photos of one person alike,
  for any encoder that is not degenerate.
* :func:`tiny_bundle`: a real :class:`~facerec.model.bundle.ModelBundle` around timm's 0.1M-parameter
  ``test_efficientnet`` (no pretrained weights), calibrated on synthetic pairs by the flow's own fitting code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..model.bundle import ModelBundle
from ..model.encoder import EncoderConfig, FaceEncoder
from ..model.preprocess import PreprocessConfig
from ..model.split import PersonSplit

TINY_BACKBONE = "test_efficientnet"
SIZE = 250


def synthetic_face(person: int, photo: int = 0, size: int = SIZE) -> Image.Image:
    """Photo ``photo`` of synthetic person ``person``: deterministic, RGB, ``size`` x ``size``."""
    rng = np.random.RandomState(person)
    coarse = rng.uniform(0, 255, size=(6, 6, 3)).astype(np.uint8)
    pattern = np.asarray(Image.fromarray(coarse).resize((size + 20, size + 20), Image.BICUBIC), dtype=np.float32)
    jitter = np.random.RandomState(10_000 + 97 * person + photo)
    dx, dy = jitter.randint(0, 5, size=2)
    image = pattern[dy : dy + size, dx : dx + size] * jitter.uniform(0.96, 1.04)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def synthetic_people(n_people: int, photos: int, start: int = 0) -> dict[str, list[Image.Image]]:
    """``{"person_<i>": [photos]}`` for ``n_people`` people from index ``start``."""
    return {f"person_{i}": [synthetic_face(i, p) for p in range(photos)] for i in range(start, start + n_people)}


def write_synthetic_dataset(root: str | Path, n_people: int, photos: int, singles: int = 0) -> Path:
    """An LFW-shaped folder (``<Person>/<Person>_0001.jpg``) of synthetic people, plus ``singles`` one-photo people."""
    root = Path(root)
    counts = [photos] * n_people + [1] * singles
    for i, count in enumerate(counts):
        name = f"Person_{i:03d}"
        (root / name).mkdir(parents=True, exist_ok=True)
        for p in range(count):
            synthetic_face(i, p).save(root / name / f"{name}_{p + 1:04d}.jpg", quality=95)
    return root


def tiny_encoder(embedding_dim: int = 32, flip_tta: bool = False, seed: int = 0) -> FaceEncoder:
    """An untrained tiny encoder whose BatchNorm statistics are set on synthetic faces (people 1000-1023).

    Without that, a randomly initialised network maps every image to nearly the same direction (cosines ~0.9999);
    centred features spread them: photos of one person ~0.9 apart, different people ~0.
    """
    import torch
    from torch import nn

    from ..model.preprocess import preprocess

    torch.manual_seed(seed)
    encoder = FaceEncoder(EncoderConfig(TINY_BACKBONE, embedding_dim, flip_tta), pretrained="none")
    batch = preprocess([image for photos in synthetic_people(24, 3, start=1000).values() for image in photos],
                       tiny_preprocess())  # fmt: skip
    for module in encoder.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the one batch
    encoder.train()
    with torch.no_grad():
        encoder(batch)
    return encoder.eval()


def tiny_preprocess(image_size: int = 64, extra_sizes: tuple[int, ...] = ()) -> PreprocessConfig:
    """One test input by default: the tiny bundles stand in for a model in tests where only the service is measured."""
    return PreprocessConfig(image_size=image_size, test_extra_sizes=extra_sizes)


def tiny_bundle(folder: str | Path, people: int = 12, photos: int = 3, open_set: bool = True) -> Path:
    """Save a tiny, untrained but calibrated bundle into ``folder``; returns the folder. With ``open_set``, it also
    carries an open-set calibrator fitted on synthetic dev simulations, and its cohort (as the flow's bundles do)."""
    from ..train.calibrate import fit_isotonic

    bundle = ModelBundle(
        encoder=tiny_encoder(),
        preprocess=tiny_preprocess(),
        calibrator=None,  # type: ignore[arg-type] - fitted below, with the bundle's own embedding path
        split=PersonSplit(train=[], dev=[], test=[], seed=0, fractions=(0.6, 0.2, 0.2)),
        metrics={"roc_auc": None},
    )
    faces = synthetic_people(people, photos, start=2000)
    embeddings = {name: bundle.embed_crops(images).numpy() for name, images in faces.items()}
    names = sorted(embeddings)
    same = [float(v[i] @ v[j]) for v in embeddings.values() for i in range(photos) for j in range(i + 1, photos)]
    different = [float(embeddings[a][0] @ embeddings[b][1]) for a in names for b in names if a < b]
    bundle.calibrator = fit_isotonic(
        np.array(same + different), np.array([1] * len(same) + [0] * len(different), dtype=float)
    )
    if open_set:
        from ..train.openset import fit_open_set

        dev = synthetic_people(30, 4, start=3000) | synthetic_people(40, 1, start=3100)
        vectors = {f"{n}/{i}": v for n, images in dev.items() for i, v in enumerate(bundle.embed_crops(images).numpy())}
        roster = {n: [f"{n}/{i}" for i in range(len(images))] for n, images in dev.items()}
        names = [n for n in roster if len(roster[n]) > 1]
        bundle.cohort = bundle.embed_crops([synthetic_face(4000 + i) for i in range(60)]).numpy()
        bundle.open_set, _ = fit_open_set(
            vectors, roster, names, [n for n in roster if len(roster[n]) == 1], bundle.cohort, fpir_target=0.05
        )
    return bundle.save(folder)
