import numpy as np
import pytest

from facerec.train.metrics import (
    best_threshold,
    brier_score,
    ece_interval,
    ece_noise_floor,
    expected_calibration_error,
    kfold_verification_accuracy,
    open_set_metrics,
    tar_at_far,
    verification_metrics,
)


def test_best_threshold_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    threshold, accuracy = best_threshold(scores, labels)
    # accepting {0.9, 0.8} or {0.9, 0.8, 0.7, 0.6} both get 5 of 6 right; the first cut found is kept
    assert accuracy == pytest.approx(5 / 6)
    assert threshold == pytest.approx(0.75)


def test_kfold_accuracy_separable_and_random():
    scores = np.concatenate([np.linspace(0.6, 1.0, 50), np.linspace(0.0, 0.4, 50)])
    labels = np.array([True] * 50 + [False] * 50)
    accuracy, std, threshold = kfold_verification_accuracy(scores, labels)
    assert accuracy == 1.0 and std == 0.0 and 0.4 < threshold < 0.6
    rng = np.random.RandomState(0)
    noise_accuracy, _, _ = kfold_verification_accuracy(rng.rand(2000), rng.rand(2000) > 0.5)
    assert 0.45 < noise_accuracy < 0.55


def test_tar_at_far_by_hand():
    # 4 positives, 10 negatives; one negative scores 0.95, above all but one positive
    scores = np.array([0.99, 0.9, 0.8, 0.3] + [0.95] + [0.1] * 9)
    labels = np.array([1, 1, 1, 1] + [0] * 10, dtype=bool)
    assert tar_at_far(scores, labels, 0.0) == pytest.approx(0.25)  # only 0.99 passes without a false accept
    assert tar_at_far(scores, labels, 0.1) == pytest.approx(1.0)  # one false accept (1/10) lets 0.3 in


def test_verification_metrics_keys_and_auc():
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1])
    labels = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    metrics = verification_metrics(scores, labels)
    # positives beat negatives in 8 of 9 (positive, negative) comparisons: only 0.3 < 0.7
    assert metrics["roc_auc"] == pytest.approx(8 / 9)
    assert metrics["n_positive_pairs"] == 3 and metrics["n_negative_pairs"] == 3


def test_open_set_metrics_by_hand():
    gallery = np.eye(3)
    probes = np.array([[0.9, 0.1, 0], [0.1, 0.2, 0.9], [0.2, 0.8, 0.1], [0.5, 0.5, 0.5]])
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    metrics = open_set_metrics(gallery, ["a", "b", "c"], probes, ["a", "b", None, None])
    assert metrics["open_set_rank1"] == pytest.approx(0.5)  # "a" right, "b" matched to "c"
    top1 = (probes @ gallery.T).max(axis=1)
    known_above = sum(k > u for k in top1[:2] for u in top1[2:])
    assert metrics["open_set_known_vs_unknown_auc"] == pytest.approx(known_above / 4)


def test_known_vs_unknown_auc_splits_exactly_into_probes_named_right_and_wrong():
    rng = np.random.RandomState(0)
    gallery = rng.normal(size=(20, 8))
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    labels = [f"p{i}" for i in range(20)]
    # known probes: noisy copies of their gallery face (some noisy enough to match somebody else); then strangers
    probes = np.concatenate([gallery + rng.normal(scale=0.6, size=gallery.shape) for _ in range(3)])
    probes = np.concatenate([probes, rng.normal(size=(30, 8))])
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    metrics = open_set_metrics(gallery, labels, probes, labels * 3 + [None] * 30)
    rank1 = metrics["open_set_rank1"]
    assert 0 < rank1 < 1
    right, wrong = (
        metrics["open_set_known_vs_unknown_auc_named_right"],
        metrics["open_set_known_vs_unknown_auc_named_wrong"],
    )
    assert metrics["open_set_known_vs_unknown_auc"] == pytest.approx(rank1 * right + (1 - rank1) * wrong)


def test_known_vs_unknown_split_leaves_out_a_part_with_no_probes():
    gallery = np.eye(2)
    probes = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    metrics = open_set_metrics(gallery, ["a", "b"], probes, ["a", "b", None])
    assert metrics["open_set_known_vs_unknown_auc_named_right"] == 1.0
    assert "open_set_known_vs_unknown_auc_named_wrong" not in metrics


def test_ece_and_brier_by_hand():
    p = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    # bin of 0.1: accuracy 0.5 vs confidence 0.1; bin of 0.9: accuracy 1 vs 0.9 -> 0.5*0.4 + 0.5*0.1
    assert expected_calibration_error(p, y, 15) == pytest.approx(0.25)
    assert brier_score(p, y) == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)


def test_ece_noise_floor_shrinks_with_the_number_of_answers_and_is_zero_for_certain_ones():
    rng = np.random.RandomState(0)
    few, many = rng.uniform(0, 1, 100), rng.uniform(0, 1, 10_000)
    floor_few, floor_many = ece_noise_floor(few), ece_noise_floor(many)
    # perfectly calibrated answers still show an ECE: sampling noise, about 1 / sqrt(answers per bin)
    assert 0.05 < floor_few["mean"] < 0.2 and floor_many["mean"] < 0.02
    assert floor_few["p95"] > floor_few["mean"]
    assert ece_noise_floor(np.array([0.0, 1.0, 1.0]))["p95"] == 0.0
    # outcomes that follow the probabilities fall under the floor's 95th percentile about 95% of the time
    inside = [
        expected_calibration_error(many, rng.random_sample(len(many)) < many) <= floor_many["p95"] for _ in range(40)
    ]
    assert np.mean(inside) >= 0.8


def test_ece_interval_over_people_widens_when_a_persons_answers_go_together():
    # 2,000 answers at P = 0.5; 100 people of 20 answers each, every person right or wrong on all of them
    p = np.full(2000, 0.5)
    right = np.repeat(np.arange(100) % 2 == 0, 20)
    people = np.repeat(np.arange(100), 20)
    one_by_one = ece_interval(p, right, np.arange(2000))
    by_person = ece_interval(p, right, people)
    # the observed ECE is 0 (half right at P = 0.5); resampled sets stray from half by ~0.5 / sqrt(units)
    assert expected_calibration_error(p, right) == 0.0 and one_by_one["high"] < 0.03 < by_person["high"] < 0.15
    # as many independent units as answers, against 100 people: the spread grows about sqrt(20) ~ 4.5 times
    assert by_person["high"] - by_person["low"] > 3 * (one_by_one["high"] - one_by_one["low"])
    assert ece_interval(p, right, people) == by_person  # seeded
    assert ece_interval(np.array([0.0, 1.0, 1.0]), np.array([0, 1, 1]), ["a", "b", "b"]) == {"low": 0.0, "high": 0.0}
