"""MTCNN detection on ONNX Runtime finds what torch finds; both alignments put the face where LFW has it."""

import json

import numpy as np
import pytest
from PIL import Image

from facerec.model.preprocess import load_rgb
from facerec.serve.detection import CROP_SIZE, LFW_LANDMARKS, FaceDetector, align_face, similarity_transform
from facerec.testing import REPO_ROOT


def test_onnx_detector_finds_the_same_faces_and_landmarks(lfw_people):
    scene = Image.new("RGB", (640, 480), (90, 110, 130))
    scene.paste(load_rgb(lfw_people["Serena_Williams"][0]).resize((300, 300)), (40, 60))
    scene.paste(load_rgb(lfw_people["Tony_Blair"][1]).resize((200, 200)), (400, 200))
    reference = FaceDetector(runtime="torch").detect(scene)
    served = FaceDetector(runtime="onnx").detect(scene)
    assert len(served) == len(reference) >= 2
    for a, b in zip(served, reference, strict=True):
        assert np.abs(np.subtract(a.box, b.box)).max() < 0.5
        assert np.abs(np.subtract(a.landmarks, b.landmarks)).max() < 0.5
        assert abs(a.probability - b.probability) < 1e-4


def _similarity_points(points: np.ndarray, a: float, b: float, tx: float, ty: float) -> np.ndarray:
    return np.stack([a * points[:, 0] - b * points[:, 1] + tx, b * points[:, 0] + a * points[:, 1] + ty], axis=1)


def test_similarity_transform_recovers_a_known_similarity():
    source = np.random.default_rng(0).uniform(80, 170, size=(5, 2))
    known = (1.4 * np.cos(0.3), 1.4 * np.sin(0.3), 37.0, -12.0)
    assert np.allclose(similarity_transform(source, _similarity_points(source, *known)), known)
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((5, 2)), source)


def _pattern(size: int = CROP_SIZE) -> Image.Image:
    """A crop with structure at every scale and no symmetry, so a wrong warp shows."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    red = 127 + 120 * np.sin(x / 9.0) * np.cos(y / 13.0)
    green = 255 * (x + 2 * y) / (3 * size)
    blue = 255 * ((x - 140) ** 2 + (y - 90) ** 2 < 30**2)
    return Image.fromarray(np.stack([red, green, blue], axis=2).clip(0, 255).astype(np.uint8))


def test_landmark_alignment_undoes_a_rotation_and_a_scale():
    # the crop placed into a scene rotated by 25 degrees, 1.6x larger, its landmarks carried along
    crop = _pattern()
    a, b, tx, ty = 1.6 * np.cos(np.radians(25)), 1.6 * np.sin(np.radians(25)), 180.0, 40.0
    inverse = np.array([a, -b]) / (a * a + b * b)  # the inverse similarity, scene -> crop
    shift = -np.array([inverse[0] * tx - inverse[1] * ty, inverse[1] * tx + inverse[0] * ty])
    scene = crop.transform(
        (640, 640), Image.AFFINE, (inverse[0], -inverse[1], shift[0], inverse[1], inverse[0], shift[1]),
        resample=Image.BICUBIC,
    )  # fmt: skip
    landmarks = _similarity_points(LFW_LANDMARKS, a, b, tx, ty)
    box = np.array([*landmarks.min(axis=0), *landmarks.max(axis=0)])  # far from MTCNN's box: must not matter
    aligned = np.asarray(align_face(scene, box, landmarks, "landmarks"), dtype=np.float64)
    inner = slice(20, CROP_SIZE - 20)
    error = np.abs(aligned[inner, inner] - np.asarray(crop, dtype=np.float64)[inner, inner]).mean()
    assert error < 2.0  # two bicubic resamplings of a smooth pattern (measured: 0.7 of 255)
    by_box = np.asarray(align_face(scene, box, landmarks, "box"), dtype=np.float64)
    assert np.abs(by_box[inner, inner] - np.asarray(crop, dtype=np.float64)[inner, inner]).mean() > 5 * error
    # landmarks on one point (a degenerate detection) fall back to the box instead of failing the request
    one_point = np.repeat(landmarks[:1], 5, axis=0)
    fallback = align_face(scene, box, one_point, "landmarks")
    assert np.array_equal(np.asarray(fallback), np.asarray(align_face(scene, box, one_point, "box")))
    with pytest.raises(ValueError, match="alignment"):
        align_face(scene, box, landmarks, "eyes")
    with pytest.raises(ValueError, match="alignment"):
        FaceDetector(alignment="eyes")


def test_landmark_alignment_puts_a_real_face_where_lfw_has_it(lfw_people):
    # an LFW photo tilted by 20 degrees and enlarged in a scene: after detection and landmark alignment, MTCNN finds
    # the face's landmarks where the template has them, up to a near-identity similarity
    photo = load_rgb(lfw_people["Tony_Blair"][0])
    scene = Image.new("RGB", (700, 600), (90, 110, 130))
    scene.paste(photo.resize((400, 400), Image.BICUBIC).rotate(20, resample=Image.BICUBIC), (150, 100))
    face = FaceDetector(runtime="onnx", alignment="landmarks").detect(scene)[0]
    again = FaceDetector(runtime="onnx").detect(face.crop)[0]
    a, b, tx, ty = similarity_transform(LFW_LANDMARKS, np.array(again.landmarks))
    assert abs(np.hypot(a, b) - 1) < 0.03 and abs(np.degrees(np.arctan2(b, a))) < 2.0
    centre = LFW_LANDMARKS.mean(axis=0)
    assert np.hypot(*(_similarity_points(centre[None], a, b, tx, ty)[0] - centre)) < 3.0


def test_the_served_template_is_the_measured_one():
    measured = json.loads((REPO_ROOT / "bench" / "results" / "alignment_benchmark.json").read_text())
    assert np.allclose(LFW_LANDMARKS, measured["landmark_template"]["mean"], atol=0.051)
