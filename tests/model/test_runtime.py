"""ONNX Runtime serves what torch evaluated."""

import numpy as np
import pytest

from facerec.model.encoder import EncoderConfig, FaceEncoder
from facerec.model.preprocess import PreprocessConfig, preprocess, preprocess_views
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


def test_one_onnx_graph_serves_every_test_size_and_their_mean_is_the_embedding():
    """Multi-scale test-time augmentation: the served embedding is the normalised mean of each size's, as torch
    evaluates it, from one exported graph (height and width are dynamic)."""
    encoder = FaceEncoder(EncoderConfig(flip_tta=True))
    config = PreprocessConfig(image_size=96, test_extra_sizes=(112,))
    runtime = create_runtime(encoder, config.eval_image_sizes, "onnx", threads=1)
    views = preprocess_views([synthetic_face(1, photo) for photo in range(2)], config)
    assert [tuple(v.shape[2:]) for v in views] == [(96, 96), (112, 112)]
    served = runtime.embed_views(views)
    single = [TorchRuntime(encoder).embed_batch(view) for view in views]
    expected = single[0] + single[1]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert abs(served - expected).max() < EQUIVALENCE_TOLERANCE
    assert np.allclose(np.linalg.norm(served, axis=1), 1, atol=1e-5)
    # the extra size changes what is served (else averaging would be a no-op)
    assert abs(served - single[0]).max() > 10 * EQUIVALENCE_TOLERANCE
    assert runtime.embed_views(views[:1]).tolist() == runtime.embed_batch(views[0]).tolist()
