"""Face detection (MTCNN, weights shipped in facenet-pytorch) and alignment into LFW-like crops.

The encoder is trained on LFW deep-funneled images, so a detected face is warped into the same geometry: a 250 px
square with the face box centred where LFW has it and of LFW's size, rotated so the eyes are level. Measured on LFW
with MTCNN: box side 121.5 px (sd 12), box centre (125.5, 126.8), across 40 people.
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


@dataclass
class DetectedFace:
    box: Box
    probability: float
    crop: Image.Image  # CROP_SIZE x CROP_SIZE, LFW-like
    landmarks: list[tuple[float, float]] | None = None

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def align_face(image: Image.Image, box: np.ndarray, landmarks: np.ndarray | None) -> Image.Image:
    """Warp the face in ``box`` (rotation from the eye landmarks when given) into an LFW-like crop."""
    x1, y1, x2, y2 = (float(v) for v in box)
    scale = max(x2 - x1, y2 - y1) / LFW_BOX_SIDE
    angle = 0.0
    if landmarks is not None:
        (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
        angle = math.atan2(ry - ly, rx - lx)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    u, v = LFW_BOX_CENTER
    # PIL maps each output pixel (u', v') to the input pixel (a u' + b v' + c, d u' + e v' + f)
    coefficients = (cos, -sin, cx - cos * u + sin * v, sin, cos, cy - sin * u - cos * v)
    return image.transform((CROP_SIZE, CROP_SIZE), Image.AFFINE, coefficients, resample=Image.BICUBIC)


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
    ):
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
        return cls(settings.min_face_size, settings.min_probability, settings.max_side, runtime, threads)

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
                crop=align_face(image, box, marks),
                landmarks=[(float(x), float(y)) for x, y in marks],
            )
            for box, p, marks in zip(boxes, probabilities, landmarks, strict=True)
            if p >= self.min_probability
        ]
        return sorted(faces, key=lambda face: face.area, reverse=True)
