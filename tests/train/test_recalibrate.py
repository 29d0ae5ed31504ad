"""Refitting a bundle's calibrators on its dev part, without retraining (facerec/train/recalibrate.py)."""

from pathlib import Path

import numpy as np
import pytest

from facerec.model.bundle import ModelBundle
from facerec.model.calibration import IsotonicCalibrator
from facerec.model.split import PersonSplit
from facerec.testing.synthetic import tiny_encoder, tiny_preprocess, write_synthetic_dataset
from facerec.train import evaluation, recalibrate
from facerec.train.data import scan_people, split_people


def bundle_on(split: PersonSplit, folder: Path) -> Path:
    """An untrained bundle with a placeholder pair calibrator and no open-set calibrator (an old bundle)."""
    return ModelBundle(
        encoder=tiny_encoder(),
        preprocess=tiny_preprocess(),
        calibrator=IsotonicCalibrator(np.array([-1.0, 1.0]), np.array([0.0, 1.0])),
        split=split,
        metrics={"roc_auc": 0.5},
        run_id="test-run",
    ).save(folder)


def test_recalibrate_refits_both_calibrators_from_dev_photos_only(tmp_path, monkeypatch):
    dataset = write_synthetic_dataset(tmp_path / "faces", n_people=40, photos=4, singles=60)
    people = scan_people(dataset)
    split = split_people(people, (0.5, 0.25, 0.25), seed=3)
    original = ModelBundle.load(bundle_on(split, tmp_path / "old"))
    read = []
    loader = evaluation.load_rgb
    monkeypatch.setattr(evaluation, "load_rgb", lambda path: read.append(path) or loader(path))

    recalibrate.main(["--model", str(tmp_path / "old"), "--out", str(tmp_path / "new"), "--dataset", str(dataset)])

    new = ModelBundle.load(tmp_path / "new")
    assert new.model_version == original.model_version  # same weights: indexes built with it stay valid
    assert new.open_set is not None and new.cohort is not None and 0 < new.open_set.threshold <= 1
    assert not np.allclose(new.calibrator(np.array([0.2, 0.9])), original.calibrator(np.array([0.2, 0.9])))
    assert new.metrics["recalibrated"]["on"] == "dev crops" and new.metrics["roc_auc"] == 0.5
    # only dev people, dev strangers and train-part singles (the cohort) were read: never a test or train person
    allowed = set(split.dev) | set(split.singles_dev) | set(split.singles_train)
    assert read and {Path(path).parent.name for path in read} <= allowed
    assert {Path(path).parent.name for path in read} & set(split.dev)


def test_another_test_input_refits_at_it_and_names_a_new_version(tmp_path):
    """--extra-sizes: the same weights served at more sizes give other vectors, so the bundle gets another version
    (indexes built with the old one are refused, then re-embedded) and calibrators fitted at the new input."""
    dataset = write_synthetic_dataset(tmp_path / "faces", n_people=30, photos=4, singles=40)
    split = split_people(scan_people(dataset), (0.5, 0.25, 0.25), seed=3)
    original = ModelBundle.load(bundle_on(split, tmp_path / "old"))
    args = ["--dataset", str(dataset), "--extra-sizes", "80"]
    recalibrate.main([*args, "--model", str(tmp_path / "old"), "--out", str(tmp_path / "new")])
    new = ModelBundle.load(tmp_path / "new")
    assert new.preprocess.eval_image_sizes == (64, 80) and new.metrics["recalibrated"]["test_input_sizes"] == [64, 80]
    assert new.model_version != original.model_version
    # the sizes asked for already: nothing to change, the version stays
    recalibrate.main([*args, "--model", str(tmp_path / "new"), "--out", str(tmp_path / "again")])
    assert ModelBundle.load(tmp_path / "again").model_version == new.model_version


def test_recalibrate_needs_a_dataset_when_the_bundle_names_none(tmp_path):
    split = split_people(scan_people(write_synthetic_dataset(tmp_path / "faces", 12, 3, 6)), seed=0)
    bundle_on(split, tmp_path / "old")
    with pytest.raises(SystemExit):
        recalibrate.main(["--model", str(tmp_path / "old"), "--out", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_recalibrate_through_the_detector_on_real_photos(tmp_path, lfw_dir, lfw_people):
    """--detect: dev photos through MTCNN and alignment, as the service sees them."""
    many = [n for n in sorted(lfw_people) if len(lfw_people[n]) >= 4]
    singles = [n for n in sorted(lfw_people) if len(lfw_people[n]) == 1]
    split = PersonSplit(
        train=many[:4], dev=many[4:12], test=many[12:16], seed=0, fractions=(0.6, 0.2, 0.2),
        singles_train=singles[:6], singles_dev=singles[6:14], singles_test=singles[14:18],
    )  # fmt: skip
    bundle_on(split, tmp_path / "old")
    recalibrate.main(
        ["--model", str(tmp_path / "old"), "--out", str(tmp_path / "new"), "--dataset", str(lfw_dir), "--detect"]
    )
    new = ModelBundle.load(tmp_path / "new")
    record = new.metrics["recalibrated"]
    assert record["on"] == "dev photos through the detector"
    assert 0 < record["photos_with_a_face"] <= record["photos"]
    assert new.open_set is not None and new.cohort.shape[0] <= 6
