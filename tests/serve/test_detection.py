"""MTCNN detection on ONNX Runtime finds what torch finds."""

import numpy as np
from PIL import Image

from facerec.model.preprocess import load_rgb
from facerec.serve.detection import FaceDetector


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
