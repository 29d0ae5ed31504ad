"""Face detection (MTCNN, weights shipped in facenet-pytorch) and alignment into LFW-like crops.

The encoder is trained on LFW deep-funneled images, so a detected face is warped into the same geometry, a 250 px
square, in one of two ways (``DETECTION_ALIGNMENT``):

* ``box``: the face box centred where LFW has it and of LFW's size, rotated so the eyes are level. Measured on LFW
  with MTCNN: box side 121.5 px (sd 12), box centre (125.5, 126.8), across 40 people.
* ``landmarks``: the similarity transform (rotation, one scale, shift) that puts MTCNN's five landmarks (eyes, nose,
  mouth corners) closest, in least squares, to where they sit on average in LFW's crops (:data:`LFW_LANDMARKS`),
  as ArcFace-style aligners do: the box's side, which MTCNN estimates with ~10% noise, no longer sets the scale.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .errors import RecognitionError
from .images import downscale

if TYPE_CHECKING:
    from .settings import DetectionSettings

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in the original image's pixels
CROP_SIZE = 250
LFW_BOX_SIDE = 121.5
LFW_BOX_CENTER = (125.5, 126.8)
# MTCNN's five landmarks (left eye, right eye, nose, left and right mouth corner) in LFW deep-funneled crops: the mean
# over the train part's photos, measured by bench/alignment_benchmark.py (bench/results/alignment_benchmark.json)
LFW_LANDMARKS = np.array([[104.9, 113.4], [147.0, 112.5], [126.1, 137.7], [108.2, 159.3], [145.5, 158.5]])


@dataclass
class DetectedFace:
    box: Box
    probability: float
    crop: Image.Image  # CROP_SIZE x CROP_SIZE, LFW-like
    landmarks: list[tuple[float, float]] | None = None

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


ALIGNMENTS = ("box", "landmarks")


def similarity_transform(source: np.ndarray, target: np.ndarray) -> tuple[float, float, float, float]:
    """The similarity (a, b, tx, ty), mapping (x, y) to (a x - b y + tx, b x + a y + ty), that brings the points
    ``source`` closest to ``target`` in least squares (Umeyama 1991, without reflection)."""
    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    ms, mt = source.mean(axis=0), target.mean(axis=0)
    s, t = source - ms, target - mt
    spread = float((s**2).sum())
    if spread <= 1e-12:
        raise ValueError("the source points coincide: no scale or rotation can be estimated")
    # complex form: t = z s with z = a + ib; least squares z = sum(conj(s) t) / sum(|s|^2)
    a = float((s[:, 0] * t[:, 0] + s[:, 1] * t[:, 1]).sum()) / spread
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / spread
    return a, b, float(mt[0] - a * ms[0] + b * ms[1]), float(mt[1] - b * ms[0] - a * ms[1])


def _warp(image: Image.Image, a: float, b: float, tx: float, ty: float) -> Image.Image:
    """The crop whose pixel (u, v) shows the image's pixel (a u - b v + tx, b u + a v + ty)."""
    # PIL maps each output pixel (u, v) to the input pixel (c0 u + c1 v + c2, c3 u + c4 v + c5)
    coefficients = (a, -b, tx, b, a, ty)
    return image.transform((CROP_SIZE, CROP_SIZE), Image.AFFINE, coefficients, resample=Image.BICUBIC)


def align_face(
    image: Image.Image,
    box: np.ndarray,
    landmarks: np.ndarray | None,
    alignment: str = "landmarks",
    template: np.ndarray = LFW_LANDMARKS,
) -> Image.Image:
    """Warp the face in ``box`` into an LFW-like crop: by its five landmarks onto ``template``, or with
    ``alignment="box"`` by its box (rotation from the eye landmarks when given). Without landmarks, or with landmarks
    that fall on one point (a degenerate detection, never worth an error), the box's way."""
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    if alignment == "landmarks" and landmarks is not None and np.ptp(np.asarray(landmarks), axis=0).max() > 1e-3:
        # the transform from the crop's frame to the image's: template -> detected landmarks
        return _warp(image, *similarity_transform(template, landmarks))
    x1, y1, x2, y2 = (float(v) for v in box)
    scale = max(x2 - x1, y2 - y1) / LFW_BOX_SIDE
    angle = 0.0
    if landmarks is not None:
        (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
        angle = math.atan2(ry - ly, rx - lx)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    u, v = LFW_BOX_CENTER
    return _warp(image, cos, sin, cx - cos * u + sin * v, cy - sin * u - cos * v)


def as_face_crop(image: Image.Image) -> DetectedFace:
    """``detect=false``: the image already is a face crop (centre square, resized to the crop size)."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    crop = image.crop((left, top, left + side, top + side)).resize((CROP_SIZE, CROP_SIZE), Image.BICUBIC)
    return DetectedFace(box=(0.0, 0.0, float(image.width), float(image.height)), probability=1.0, crop=crop)


def _run_nets_on_onnx(mtcnn, threads: int) -> None:
    """Swap MTCNN's three networks for ONNX Runtime twins: the detector's pyramid and crops stay facenet-pytorch's."""
    import torch

    from ..model.runtime import OnnxModule

    # P-Net is fully convolutional: any image size of the pyramid; R-Net and O-Net take fixed-size crops
    mtcnn.pnet = OnnxModule(mtcnn.pnet, torch.zeros(1, 3, 60, 80), ["reg", "prob"], (0, 2, 3), threads)
    mtcnn.rnet = OnnxModule(mtcnn.rnet, torch.zeros(2, 3, 24, 24), ["reg", "prob"], (0,), threads)
    mtcnn.onet = OnnxModule(mtcnn.onet, torch.zeros(2, 3, 48, 48), ["reg", "landmarks", "prob"], (0,), threads)


class FaceDetector:
    """MTCNN, loaded on first use; faces sorted largest first (the first one is the photo's main face)."""

    def __init__(
        self,
        min_face_size: int = 40,
        min_probability: float = 0.9,
        max_side: int = 1024,
        runtime: str = "torch",
        threads: int = 1,
        alignment: str = "landmarks",
    ):
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        self.alignment = alignment
        self.min_face_size = min_face_size
        self.min_probability = min_probability
        self.max_side = max_side
        self.runtime = runtime
        self.threads = threads
        self._mtcnn = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: DetectionSettings, runtime: str = "torch", threads: int = 1) -> FaceDetector:
        """The detector the service runs, so that every caller (API, reindex) detects and aligns alike."""
        return cls(
            settings.min_face_size, settings.min_probability, settings.max_side, runtime, threads, settings.alignment
        )

    def _model(self):
        with self._lock:
            if self._mtcnn is None:
                from facenet_pytorch import MTCNN

                mtcnn = MTCNN(keep_all=True, device="cpu", min_face_size=self.min_face_size, post_process=False)
                if self.runtime == "onnx":
                    _run_nets_on_onnx(mtcnn, self.threads)
                self._mtcnn = mtcnn
            return self._mtcnn

    def load(self) -> None:
        self._model()

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        small, factor = downscale(image, self.max_side)
        if min(small.size) < self.min_face_size:  # MTCNN's pyramid would be empty (it crashes, not answers "none")
            shrunk = f", {small.width}x{small.height} after downscaling to {self.max_side}" if factor < 1 else ""
            raise RecognitionError(
                f"the image is {image.width}x{image.height} pixels{shrunk}: too small to hold a face of "
                f"{self.min_face_size} pixels (DETECTION_MIN_FACE_SIZE); send a larger photo, or detect=false "
                "for a face crop"
            )
        boxes, probabilities, landmarks = self._model().detect(small, landmarks=True)
        if boxes is None:
            return []
        # with numpy 2 facenet-pytorch hands back object arrays
        boxes = np.asarray(boxes.tolist(), dtype=np.float64) / factor
        probabilities = np.asarray(probabilities.tolist(), dtype=np.float64)
        landmarks = np.asarray(landmarks.tolist(), dtype=np.float64) / factor
        faces = [
            DetectedFace(
                box=tuple(float(v) for v in box),
                probability=float(p),
                crop=align_face(image, box, marks, self.alignment),
                landmarks=[(float(x), float(y)) for x, y in marks],
            )
            for box, p, marks in zip(boxes, probabilities, landmarks, strict=True)
            if p >= self.min_probability
        ]
        return sorted(faces, key=lambda face: face.area, reverse=True)
