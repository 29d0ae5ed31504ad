"""ONNX Runtime serves what torch evaluated."""

import pytest

from facerec.model.encoder import EncoderConfig, FaceEncoder
from facerec.model.preprocess import PreprocessConfig, preprocess
from facerec.model.runtime import EQUIVALENCE_TOLERANCE, OnnxRuntime, TorchRuntime, create_runtime
from facerec.testing.synthetic import synthetic_face


@pytest.mark.parametrize("flip_tta", [True, False])
def test_onnx_runtime_serves_the_embeddings_torch_evaluated(flip_tta):
    encoder = FaceEncoder(EncoderConfig(flip_tta=flip_tta))
    runtime = create_runtime(encoder, 96, "onnx", threads=1)
    assert isinstance(runtime, OnnxRuntime)
    faces = [synthetic_face(1, photo) for photo in range(3)]
    for count in (1, 3):  # the batch size is dynamic in the exported graph
        batch = preprocess(faces[:count], PreprocessConfig(image_size=96))
        served, evaluated = runtime.embed_batch(batch), TorchRuntime(encoder).embed_batch(batch)
        assert served.shape == (count, 300)
        assert abs(served - evaluated).max() < EQUIVALENCE_TOLERANCE
    assert isinstance(create_runtime(encoder, 96, "torch"), TorchRuntime)
