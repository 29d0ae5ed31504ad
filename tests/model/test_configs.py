"""The records a bundle carries read back, also as older bundles wrote them."""

import json

from facerec.model.preprocess import PreprocessConfig
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
    assert PreprocessConfig.from_dict(older) == PreprocessConfig(image_size=160)
    assert (PreprocessConfig().eval_image_size, PreprocessConfig().eval_crop_fraction) == (192, 0.68)
