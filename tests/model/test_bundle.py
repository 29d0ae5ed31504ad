import json

import numpy as np
import pytest
import torch

from facerec.model.bundle import BundleError, ModelBundle, load_bundle
from facerec.model.calibration import IsotonicCalibrator
from facerec.model.encoder import EncoderConfig, FaceEncoder
from facerec.model.split import PersonSplit
from facerec.testing.synthetic import synthetic_face


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    torch.manual_seed(0)
    encoder = FaceEncoder(EncoderConfig(embedding_dim=300))
    # give BatchNorm non-trivial running statistics, as a trained encoder has
    encoder.train()
    with torch.no_grad():
        encoder(torch.randn(8, 3, 96, 96))
    encoder.eval()
    return ModelBundle(
        encoder=encoder,
        preprocess=encoder.default_preprocess(image_size=96, test_extra_sizes=()),
        calibrator=IsotonicCalibrator(np.array([0.1, 0.4, 0.8]), np.array([0.0, 0.5, 1.0])),
        split=PersonSplit(["Ann"], ["Bob"], ["Cy", "Di"], seed=42, fractions=(0.6, 0.2, 0.2), singles_test=["Ed"]),
        metrics={"roc_auc": 0.5},
    )


def test_round_trip_gives_bit_identical_embeddings(tmp_path, bundle):
    folder = bundle.save(tmp_path / "bundle")
    loaded = load_bundle(str(folder))
    images = [synthetic_face(1, photo) for photo in range(3)]
    assert torch.equal(bundle.embed_crops(images), loaded.embed_crops(images))
    assert loaded.model_version == bundle.model_version and loaded.model_version.startswith("tf_efficientnet_lite0-")
    assert loaded.preprocess == bundle.preprocess and loaded.encoder.config == bundle.encoder.config
    assert loaded.split == bundle.split and loaded.metrics == {"roc_auc": 0.5}
    np.testing.assert_array_equal(loaded.calibrator.x, bundle.calibrator.x)


def test_another_test_input_of_the_same_weights_is_another_model_version(tmp_path, bundle):
    """An index built with one set of vectors must not take the other's for its own (the service refuses a stale
    index by version)."""
    from dataclasses import replace

    single = bundle.save(tmp_path / "single")
    multi = replace(bundle, preprocess=replace(bundle.preprocess, test_extra_sizes=(112,)), model_version="")
    multi.save(tmp_path / "multi")
    loaded = load_bundle(str(tmp_path / "multi"))
    assert loaded.preprocess.eval_image_sizes == (96, 112)
    assert loaded.model_version != load_bundle(str(single)).model_version
    images = [synthetic_face(1, photo) for photo in range(2)]
    assert not torch.allclose(loaded.embed_crops(images), bundle.embed_crops(images), atol=1e-4)


def test_bundle_holds_no_pickles(tmp_path, bundle):
    folder = bundle.save(tmp_path / "bundle")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["bundle.json", "calibrator.json", "metrics.json", "split.json", "weights.safetensors"]
    for name in names:
        if name.endswith(".json"):
            json.loads((folder / name).read_text())


def test_corrupt_or_foreign_bundles_are_refused(tmp_path, bundle):
    folder = bundle.save(tmp_path / "bundle")
    weights = folder / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="corrupt"):
        load_bundle(str(folder))
    other = bundle.save(tmp_path / "other")
    manifest = json.loads((other / "bundle.json").read_text())
    (other / "bundle.json").write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(BundleError, match="v99"):
        load_bundle(str(other))
    with pytest.raises(BundleError, match="not found"):
        load_bundle(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(str(tmp_path / "empty"))
