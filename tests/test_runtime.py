"""ONNX Runtime serves what torch evaluated: the encoder and MTCNN's networks give the same results."""

import numpy as np
import pytest
from PIL import Image

from facerec.detection import FaceDetector
from facerec.encoder import EncoderConfig, FaceEncoder
from facerec.runtime import EQUIVALENCE_TOLERANCE, OnnxRuntime, TorchRuntime, create_runtime
from facerec.transforms import PreprocessConfig, load_rgb, preprocess


@pytest.mark.parametrize("flip_tta", [True, False])
def test_onnx_runtime_serves_the_embeddings_torch_evaluated(lfw_people, flip_tta):
    encoder = FaceEncoder(EncoderConfig(flip_tta=flip_tta))
    runtime = create_runtime(encoder, 96, "onnx", threads=1)
    assert isinstance(runtime, OnnxRuntime)
    faces = [load_rgb(path) for path in lfw_people["Tony_Blair"][:3]]
    for count in (1, 3):  # the batch size is dynamic in the exported graph
        batch = preprocess(faces[:count], PreprocessConfig(image_size=96))
        served, evaluated = runtime.embed(batch), TorchRuntime(encoder).embed(batch)
        assert served.shape == (count, 300)
        assert abs(served - evaluated).max() < EQUIVALENCE_TOLERANCE
    assert isinstance(create_runtime(encoder, 96, "torch"), TorchRuntime)


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
