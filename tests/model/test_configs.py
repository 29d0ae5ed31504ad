"""The records a bundle carries read back, also as older bundles wrote them."""

import json

import pytest

from facerec.model.preprocess import PreprocessConfig, parse_sizes
from facerec.model.split import PersonSplit


def test_split_of_an_older_bundle_reads_its_singles_as_test_strangers():
    old = {"train": ["A"], "dev": ["B"], "test": ["C"], "seed": 42, "fractions": [0.6, 0.2, 0.2], "singles": ["D"]}
    split = PersonSplit.from_json(json.dumps(old))
    assert (split.singles("test"), split.singles("train"), split.fractions) == (["D"], [], (0.6, 0.2, 0.2))
    assert PersonSplit.from_json(split.to_json()) == split


def test_preprocess_holds_training_and_test_inputs_side_by_side():
    config = PreprocessConfig(image_size=160, crop_fraction=0.68, test_image_size=208, test_crop_fraction=0.72)
    assert (config.eval_image_size, config.eval_crop_fraction) == (208, 0.72)
    assert PreprocessConfig.from_dict(config.to_dict()) == config
    older = {"image_size": 160, "crop_fraction": 0.68, "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bicubic"}
    # bundles written before extra test sizes embed at one size, whatever today's default
    assert PreprocessConfig.from_dict(older) == PreprocessConfig(image_size=160, test_extra_sizes=())
    assert PreprocessConfig.from_dict(older).eval_image_sizes == (160,)
    assert (PreprocessConfig().eval_image_size, PreprocessConfig().eval_crop_fraction) == (192, 0.68)


def test_extra_test_sizes_travel_with_the_config_and_selection_measures_the_main_one():
    config = PreprocessConfig(image_size=160, test_image_size=176, test_extra_sizes=(208, 224))
    assert config.eval_image_sizes == (176, 208, 224)
    assert PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.single_input().eval_image_sizes == (176,)
    assert PreprocessConfig().eval_image_sizes == (192, 224)  # the default recipe's
    with pytest.raises(ValueError, match="must differ"):
        PreprocessConfig(test_extra_sizes=(192,)).validate()
    with pytest.raises(ValueError, match=">= 32"):
        PreprocessConfig(test_extra_sizes=(16,)).validate()


@pytest.mark.parametrize(("text", "sizes"), [("224", (224,)), (" 208,224 ", (208, 224)), ("none", ()), ("", ())])
def test_extra_sizes_parse_from_what_shells_pass(text, sizes):
    assert parse_sizes(text) == sizes


def test_unparseable_sizes_say_what_was_expected():
    with pytest.raises(ValueError, match="comma-separated whole pixels"):
        parse_sizes("224px")
