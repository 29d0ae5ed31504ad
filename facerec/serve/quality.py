"""Is a face good enough to enrol? Size, sharpness, detector confidence and head turn, each with its measured value.

A poor enrolment photo poisons the gallery: every later probe of that person is compared with it. Recognition
still answers for any face (with its quality attached); enrolment refuses faces that break a rule and says which
rule and what was measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from .detection import DetectedFace


@dataclass(frozen=True)
class FaceQuality:
    size: float  # the face box's shorter side in the photo, pixels
    sharpness: float  # variance of the Laplacian over the aligned face (grey levels^2): low = blurred
    detection: float  # the detector's face probability (1.0 for a given crop)
    yaw: float | None  # nose offset from the eyes' midpoint / eye distance: 0 frontal, ~0.5 in profile

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def sharpness(crop: Image.Image) -> float:
    """Variance of the 4-neighbour Laplacian over the central 60% of the aligned face, at 128 px."""
    side = crop.width
    margin = round(side * 0.2)
    face = crop.crop((margin, margin, side - margin, side - margin)).convert("L").resize((128, 128), Image.BILINEAR)
    pixels = np.asarray(face, dtype=np.float64)
    laplacian = pixels[1:-1, :-2] + pixels[1:-1, 2:] + pixels[:-2, 1:-1] + pixels[2:, 1:-1] - 4 * pixels[1:-1, 1:-1]
    return float(laplacian.var())


def yaw_ratio(landmarks: list[tuple[float, float]] | None) -> float | None:
    """How far the head is turned, from MTCNN's five landmarks (eyes, nose, mouth corners), in the eyes' frame."""
    if not landmarks or len(landmarks) < 3:
        return None
    (lx, ly), (rx, ry), (nx, ny) = landmarks[:3]
    axis = np.array([rx - lx, ry - ly])
    distance = float(np.linalg.norm(axis))
    if distance < 1e-6:
        return None
    nose = np.array([nx - (lx + rx) / 2, ny - (ly + ry) / 2])
    return float(abs(nose @ axis) / distance**2)


def measure(face: DetectedFace) -> FaceQuality:
    x1, y1, x2, y2 = face.box
    return FaceQuality(
        size=float(min(x2 - x1, y2 - y1)),
        sharpness=sharpness(face.crop),
        detection=float(face.probability),
        yaw=yaw_ratio(face.landmarks),
    )


@dataclass(frozen=True)
class QualityRules:
    """The limits an enrolment face must meet (0 / 1 / None switch a rule off)."""

    # on 150 LFW training people's photos (never the test people) these refuse under 1% each: sharpness 1st
    # percentile 41, yaw 99th percentile 0.32, detector >= 0.994, faces >= 77 px
    min_size: float = 40.0
    min_sharpness: float = 25.0
    min_detection: float = 0.95
    max_yaw: float = 0.4

    def problems(self, quality: FaceQuality) -> list[str]:
        found = []
        if quality.size < self.min_size:
            found.append(f"too small ({quality.size:.0f} px < {self.min_size:g} px)")
        if quality.sharpness < self.min_sharpness:
            found.append(f"blurred (sharpness {quality.sharpness:.1f} < {self.min_sharpness:g})")
        if quality.detection < self.min_detection:
            found.append(f"unsure it is a face (detector {quality.detection:.3f} < {self.min_detection:g})")
        if quality.yaw is not None and quality.yaw > self.max_yaw:
            found.append(f"turned away (yaw {quality.yaw:.2f} > {self.max_yaw:g})")
        return found
