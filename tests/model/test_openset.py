"""The open-set calibrator as serving applies it: the two parts, restating them for a stated share of strangers,
and both bundle layouts."""

from __future__ import annotations

import numpy as np
import pytest

from facerec.model.openset import (
    FEATURES,
    LogisticIsotonic,
    OpenSetCalibrator,
    centroid_people,
    person_scores,
    shift_prior,
)


def gaussian_posterior(x: np.ndarray, stranger_share: float) -> np.ndarray:
    """P(enrolled | x) when enrolled faces score N(1, 1) and strangers N(-1, 1): known exactly for any prior."""
    known, stranger = np.exp(-((x - 1) ** 2) / 2), np.exp(-((x + 1) ** 2) / 2)
    return (1 - stranger_share) * known / ((1 - stranger_share) * known + stranger_share * stranger)


def test_shifting_the_prior_gives_the_posterior_of_the_new_share():
    x = np.linspace(-3, 3, 25)
    fitted_at = gaussian_posterior(x, 0.3)
    for share in (0.05, 0.3, 0.5, 0.9):
        assert shift_prior(fitted_at, 0.3, share) == pytest.approx(gaussian_posterior(x, share), abs=1e-6)
    # more strangers expected: every answer less sure, never more
    assert (shift_prior(fitted_at, 0.3, 0.9) <= fitted_at + 1e-12).all()


def identity_map(value: float | None = None) -> LogisticIsotonic:
    """A map whose logit is the first feature; the isotonic part is the sigmoid (or a constant ``value``)."""
    grid = np.linspace(-8, 8, 161)
    coef = np.zeros(len(FEATURES))
    coef[0] = 1.0
    curve = np.full_like(grid, value) if value is not None else 1 / (1 + np.exp(-grid))
    return LogisticIsotonic(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, 0.0, grid, curve)


def test_the_two_parts_multiply_and_only_the_enrolled_part_is_restated():
    features = np.zeros((3, len(FEATURES)))
    features[:, 0] = [-2.0, 0.0, 2.0]
    calibrator = OpenSetCalibrator(
        identity_map(), known=identity_map(), right_if_known=identity_map(0.5), stranger_share=0.3
    )
    enrolled = 1 / (1 + np.exp(-features[:, 0]))
    assert calibrator.restatable
    assert calibrator(features) == pytest.approx(0.5 * enrolled, abs=1e-3)
    assert calibrator(features, 0.3) == pytest.approx(calibrator(features))
    assert calibrator(features, 0.9) == pytest.approx(0.5 * shift_prior(enrolled, 0.3, 0.9), abs=1e-3)


def test_a_one_map_calibrator_of_older_bundles_ignores_a_stated_share_and_both_layouts_round_trip():
    features = np.zeros((2, len(FEATURES)))
    features[:, 0] = [-1.0, 1.0]
    older = OpenSetCalibrator(identity_map(), aggregate="top2", threshold=0.8)
    assert not older.restatable and older(features, 0.9) == pytest.approx(older(features))
    data = older.to_dict()
    assert "known" not in data and OpenSetCalibrator.from_dict(data)(features) == pytest.approx(older(features))
    two = OpenSetCalibrator(identity_map(), known=identity_map(), right_if_known=identity_map(0.7), stranger_share=0.4)
    again = OpenSetCalibrator.from_dict(two.to_dict())
    assert again.stranger_share == 0.4 and again(features, 0.8) == pytest.approx(two(features, 0.8))


def test_the_parts_come_with_the_share_they_were_fitted_at():
    with pytest.raises(ValueError, match="two parts"):
        OpenSetCalibrator(identity_map(), known=identity_map())
    with pytest.raises(ValueError, match="two parts"):
        OpenSetCalibrator(identity_map(), known=identity_map(), right_if_known=identity_map(), stranger_share=None)


def test_a_person_is_scored_by_the_mean_of_all_their_faces_not_their_luckiest_one():
    query = np.array([1.0, 0.0])
    # A has one face close to the query and one far from it; B two faces at a middling angle
    faces = {"A": np.array([[1.0, 0.0], [0.0, 1.0]]), "B": np.array([[0.8, 0.6], [0.8, -0.6]])}
    (first, second) = centroid_people(query, faces)
    assert (first.name, first.score, first.faces) == ("B", pytest.approx(1.0), 2)
    assert (second.name, second.score) == ("A", pytest.approx(np.sqrt(0.5)))
    matches = [(name, float(face @ query)) for name, rows in faces.items() for face in rows]
    assert person_scores(matches, "max")[0].name == "A"  # the best face alone ranks them the other way
    # with one face each the centroid is the best face
    single = {"A": faces["A"][:1], "B": faces["B"][:1]}
    assert [(p.name, p.score) for p in centroid_people(query, single)] == [
        (p.name, pytest.approx(p.score)) for p in person_scores(matches[::2], "max")
    ]
    assert centroid_people(query, {}) == [] and len(centroid_people(query, faces, limit=1)) == 1


def test_a_calibrator_reads_only_the_evidence_it_was_fitted_on():
    five = FEATURES[:5]  # bundles fitted before the person's side of the cohort normalisation (gallery_z)

    def five_map() -> LogisticIsotonic:
        grid = np.linspace(-8, 8, 161)
        return LogisticIsotonic(np.zeros(5), np.ones(5), np.eye(5)[0], 0.0, grid, 1 / (1 + np.exp(-grid)))

    older = OpenSetCalibrator(five_map(), features=five)
    rows = np.zeros((3, len(FEATURES)))
    rows[:, 0] = [-1.0, 0.0, 2.0]
    noisy = rows.copy()
    noisy[:, FEATURES.index("gallery_z")] = [50.0, -50.0, 7.0]
    assert older(noisy) == pytest.approx(older(rows)) and older(rows) == pytest.approx(1 / (1 + np.exp(-rows[:, 0])))
    assert OpenSetCalibrator.from_dict(older.to_dict()).features == five
    assert not older.needs_person_vectors  # the best-face score and no person side: a search result is enough
    assert OpenSetCalibrator(five_map(), features=five, aggregate="centroid").needs_person_vectors
    assert OpenSetCalibrator(identity_map()).needs_person_vectors  # today's evidence reads the person's centroid
    with pytest.raises(ValueError, match="unknown evidence"):
        OpenSetCalibrator(five_map(), features=(*FEATURES[:4], "shoe_size"))
