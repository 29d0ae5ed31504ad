"""A face-specific teacher for distillation: dlib's ResNet face descriptor, computed once per image and cached.

dlib's model (PyPI ``dlib-bin`` + ``face-recognition-models``) was trained on ~3M faces of people its author kept
out of LFW, and scores 99% on our test pairs; its 128-d descriptors are the distillation targets of
:class:`facerec.train.losses.TeacherDistillationLoss`. It only reads the training people's images, never dev or test.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..storage import cache_root
from .data import images_of

TEACHER_ID = "dlib_resnet_v1"
TEACHER_DIM = 128
# LFW deep-funneled images are 250 x 250 with the face centred, so a fixed box around the centre only seeds dlib's
# 5-point landmark detector, which then aligns the teacher's own 150 px chip (no face detector run per image); the
# teacher's accuracy on the protocol with this box: bench/teacher_eval.py
FACE_BOX_FRACTIONS = (0.3, 0.3, 0.7, 0.7)
CHUNK = 256
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"


class TeacherUnavailable(RuntimeError):
    """The teacher's packages are not installed."""


def _models_dir() -> Path:
    # importing face_recognition_models needs pkg_resources (setuptools); its files are all we use
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise TeacherUnavailable(
            "distillation needs the dlib teacher: pip install dlib-bin face-recognition-models (in requirements.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def check_available() -> None:
    """Raise :class:`TeacherUnavailable` with the fix when the teacher cannot be loaded (before any training)."""
    if importlib.util.find_spec("dlib") is None:
        raise TeacherUnavailable("distillation needs the dlib teacher: pip install dlib-bin (in requirements.txt)")
    for name in (LANDMARKS_FILE, DESCRIPTOR_FILE):
        if not (_models_dir() / name).is_file():
            raise TeacherUnavailable(
                f"the dlib teacher's model file {name} is missing: reinstall face-recognition-models"
            )


class DlibTeacher:
    """dlib's ResNet face descriptor on centred face crops, L2-normalised."""

    def __init__(self):
        try:
            import dlib
        except ImportError as exc:
            raise TeacherUnavailable(f"distillation needs the dlib teacher (pip install dlib-bin): {exc}") from exc
        models = _models_dir()
        self._dlib = dlib
        self._landmarks = dlib.shape_predictor(str(models / LANDMARKS_FILE))
        self._descriptor = dlib.face_recognition_model_v1(str(models / DESCRIPTOR_FILE))

    def embed_file(self, path: str) -> np.ndarray:
        """The L2-normalised descriptor of the face in the centre of an LFW-like image file."""
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        height, width = pixels.shape[:2]
        left, top, right, bottom = FACE_BOX_FRACTIONS
        box = self._dlib.rectangle(int(left * width), int(top * height), int(right * width), int(bottom * height))
        vector = np.asarray(self._descriptor.compute_face_descriptor(pixels, self._landmarks(pixels, box)), np.float32)
        return vector / np.linalg.norm(vector)


def image_key(path: str) -> str:
    """``Person/file.jpg:size``: the same image has the same key in a local folder and in a downloaded S3 copy."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}:{p.stat().st_size}"


_worker_teacher: DlibTeacher | None = None


def _init_worker() -> None:
    global _worker_teacher
    _worker_teacher = DlibTeacher()


def _embed_chunk(paths: list[str]) -> np.ndarray:
    assert _worker_teacher is not None
    return np.stack([_worker_teacher.embed_file(path) for path in paths])


class TeacherCache:
    """Teacher descriptors by :func:`image_key`, in one ``.npz`` file per teacher under the cache folder."""

    def __init__(self, root: str | Path | None = None):
        self.path = cache_root(root) / "teacher" / f"{TEACHER_ID}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as data:
                    self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except (OSError, ValueError, KeyError) as exc:  # a damaged cache is recomputed, never fatal
                print(f"teacher cache {self.path} unreadable ({exc}); computing again")

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # per-process temporary name: two flows filling the cache at once each replace the file whole
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
        keys = sorted(self.vectors)
        vectors = np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, TEACHER_DIM), np.float32)
        np.savez(tmp, keys=np.array(keys), vectors=vectors)
        os.replace(tmp, self.path)


def teacher_embeddings(
    paths: Sequence[str], cache_dir: str | Path | None = None, workers: int = 0, log=print
) -> np.ndarray:
    """Teacher descriptors for ``paths`` (rows in order), computing the ones not cached yet in ``workers`` processes.

    ``workers`` 0 = one per core. Progress is saved after every chunk, so an interrupted run keeps what it computed.
    """
    cache = TeacherCache(cache_dir)
    key_of = {path: image_key(path) for path in paths}
    missing = sorted(path for path, key in key_of.items() if key not in cache.vectors)
    if missing:
        workers = workers or os.cpu_count() or 1
        log(
            f"teacher {TEACHER_ID}: computing {len(missing):,} descriptors in {workers} processes "
            f"({len(paths) - len(missing):,} cached in {cache.path})"
        )
        started = time.monotonic()
        chunks = [missing[i : i + CHUNK] for i in range(0, len(missing), CHUNK)]
        # spawn: the parent may hold torch's thread pools, which fork would copy in an unknown state
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
            for done, (chunk, vectors) in enumerate(zip(chunks, pool.map(_embed_chunk, chunks), strict=True), 1):
                cache.vectors.update((key_of[p], v) for p, v in zip(chunk, vectors, strict=True))
                cache.save()
                log(
                    f"teacher: {min(done * CHUNK, len(missing)):,}/{len(missing):,} "
                    f"({time.monotonic() - started:.0f} s)"
                )
    if not paths:
        return np.zeros((0, TEACHER_DIM), np.float32)
    return np.stack([cache.vectors[key_of[path]] for path in paths])


def teacher_descriptors(people: dict[str, list[str]], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The teacher's descriptor of every image of ``names``, by path: what the training loop takes."""
    paths = [item.path for item in images_of(people, list(names))]
    return dict(zip(paths, teacher_embeddings(paths), strict=True))
