from pathlib import Path

import numpy as np
import pytest

from facerec.model.split import PersonSplit
from facerec.testing.synthetic import write_synthetic_dataset
from facerec.train.data import (
    DatasetError,
    check_fractions,
    limit_split,
    multi_image_people,
    scan_people,
    split_people,
    verify_lfw,
)


def test_lfw_copy_is_complete(lfw_dir):
    people = verify_lfw(lfw_dir)
    assert len(multi_image_people(people)) == 1680
    assert len(people["George_W_Bush"]) == 530


def test_split_counts_and_person_disjoint(lfw_people):
    split = split_people(lfw_people)
    assert (len(split.train), len(split.dev), len(split.test)) == (1008, 336, 336)
    parts = [set(split.train), set(split.dev), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(multi_image_people(lfw_people))
    singles = [set(split.singles(p)) for p in ("train", "dev", "test")]
    assert [len(s) for s in singles] == [2441, 813, 815]
    assert not (singles[0] & singles[1] or singles[0] & singles[2] or singles[1] & singles[2])
    assert set().union(*singles) == {n for n, paths in lfw_people.items() if len(paths) == 1}
    # more people for training, fewer for dev: the test people and test strangers stay exactly the same
    moved = split_people(lfw_people, fractions=(0.7, 0.1, 0.2))
    assert (len(moved.train), len(moved.dev)) == (1176, 168) and moved.test == split.test
    assert moved.singles_test == split.singles_test and set(split.train) < set(moved.train)


def test_split_is_deterministic_and_follows_the_seeded_shuffle(lfw_people):
    a, b = split_people(lfw_people), split_people(lfw_people)
    assert a == b
    names = np.array(sorted(multi_image_people(lfw_people)))
    np.random.RandomState(42).shuffle(names)
    assert a.train == sorted(names[:1008].tolist()) and a.test == sorted(names[1344:].tolist())
    assert split_people(lfw_people, seed=7).train != a.train


def test_split_round_trips_through_json(tmp_path):
    people = scan_people(write_synthetic_dataset(tmp_path, n_people=30, photos=2, singles=4))
    split = limit_split(split_people(people), 5)
    assert PersonSplit.from_json(split.to_json()) == split
    assert all(len(split.part(p)) == 5 for p in ("train", "dev", "test"))


@pytest.mark.parametrize("fractions", [(0.5, 0.2, 0.2), (0.6, 0.4, 0.0), (1.2, -0.1, -0.1), (0.5, 0.5)])
def test_bad_fractions_are_refused(fractions):
    with pytest.raises(ValueError, match="summing to 1"):
        check_fractions(fractions)


def test_incomplete_or_missing_dataset_is_reported(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_people(tmp_path / "nope")
    with pytest.raises(DatasetError, match="13,233 images of 5,749 people"):
        verify_lfw(write_synthetic_dataset(tmp_path / "some", n_people=3, photos=2))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no <Person_Name>"):
        scan_people(tmp_path / "empty")


def test_a_folder_of_people_may_hold_jpeg_png_and_webp_photos_and_nothing_else_is_taken(tmp_path):
    from facerec.testing.synthetic import synthetic_face

    (tmp_path / "Ann").mkdir()
    for suffix, kind in ((".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP")):
        synthetic_face(0).save(tmp_path / "Ann" / f"Ann{suffix}", kind)
    (tmp_path / "Ann" / "notes.txt").write_text("not a photo")
    assert [Path(p).suffix for p in scan_people(tmp_path)["Ann"]] == [".jpg", ".png", ".webp"]
