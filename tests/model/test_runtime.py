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


@pytest.mark.parametrize("training", [True, False])
def test_a_flip_override_is_served_the_same_and_the_encoder_keeps_its_mode(training):
    """Dev evaluations embed without flip averaging in the middle of training: the ONNX graph must follow the override,
    and exporting it must leave the encoder in the mode it was in."""
    encoder = FaceEncoder(EncoderConfig(flip_tta=True)).train(training)
    runtime = create_runtime(encoder, 96, "onnx", threads=1, flip_tta=False)
    assert encoder.training is training
    batch = preprocess([synthetic_face(1, photo) for photo in range(2)], PreprocessConfig(image_size=96))
    served, plain = runtime.embed_batch(batch), TorchRuntime(encoder, flip_tta=False).embed_batch(batch)
    assert abs(served - plain).max() < EQUIVALENCE_TOLERANCE
    # and the override is not a no-op: with flip averaging the embeddings differ
    assert abs(TorchRuntime(encoder).embed_batch(batch) - plain).max() > 10 * EQUIVALENCE_TOLERANCE
    assert encoder.training is training
