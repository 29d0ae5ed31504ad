"""The enrolment quality gate: each rule with its measured value, and recognition reports quality for any face."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facerec.serve.detection import DetectedFace
from facerec.serve.errors import RecognitionError
from facerec.serve.quality import FaceQuality, QualityRules, measure, sharpness, yaw_ratio
from facerec.testing.synthetic import synthetic_face


def textured(seed: int = 0) -> Image.Image:
    """A face-sized crop with fine detail (noise over a synthetic face)."""
    base = np.asarray(synthetic_face(seed), dtype=np.float64)
    noise = np.random.RandomState(seed).normal(0, 25, size=base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def test_blur_lowers_sharpness():
    sharp = textured()
    assert sharpness(sharp) > 10 * sharpness(sharp.filter(ImageFilter.GaussianBlur(4)))


def test_yaw_from_landmarks():
    frontal = [(100, 100), (150, 100), (125, 130), (110, 160), (140, 160)]
    turned = [(100, 100), (150, 100), (148, 130), (130, 160), (155, 160)]
    assert yaw_ratio(frontal) == pytest.approx(0.0)
    assert yaw_ratio(turned) == pytest.approx(23 / 50)
    assert yaw_ratio(None) is None


def test_each_rule_names_itself_and_its_measurement():
    rules = QualityRules(min_size=40, min_sharpness=25, min_detection=0.95, max_yaw=0.4)
    good = FaceQuality(size=90, sharpness=120, detection=0.999, yaw=0.05)
    assert rules.problems(good) == []
    bad = FaceQuality(size=30, sharpness=8.2, detection=0.91, yaw=0.46)
    assert rules.problems(bad) == [
        "too small (30 px < 40 px)",
        "blurred (sharpness 8.2 < 25)",
        "unsure it is a face (detector 0.910 < 0.95)",
        "turned away (yaw 0.46 > 0.4)",
    ]


def test_enrolment_refuses_a_blurred_face_and_recognition_reports_quality(recognizer):
    recognizer.quality_rules = QualityRules(min_sharpness=25)
    blurred = textured(1).filter(ImageFilter.GaussianBlur(5))
    with pytest.raises(RecognitionError, match=r"blurred \(sharpness [\d.]+ < 25\)"):
        recognizer.enroll(blurred, "Blurry", detect=False)
    enrolment = recognizer.enroll(textured(1), "Sharp", detect=False)
    assert enrolment.quality.sharpness >= 25 and enrolment.quality.yaw is None  # no landmarks for a given crop
    (face,) = recognizer.recognize(blurred, k=1, detect=False)
    assert face.quality.sharpness < 25  # recognition answers anyway, and says how good the face was
    assert measure(DetectedFace((0, 0, 50, 80), 0.97, textured(2))).size == 50
