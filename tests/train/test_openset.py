"""The open-set protocol and calibrator on small synthetic galleries where the right answers are known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facerec.model.calibration import IsotonicCalibrator
from facerec.model.openset import FEATURES, OpenSetCalibrator, person_scores
from facerec.train.metrics import expected_calibration_error, fnir_at_fpir
from facerec.train.openset import (
    SIMULATED_STRANGER_SHARE,
    Decisions,
    build_gallery,
    det_curve,
    evaluate_open_set,
    fit_open_set,
    identification_report,
    person_matrix,
    simulated_galleries,
)


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def test_fnir_at_fpir_by_hand():
    # 10 strangers scoring 0.0 .. 0.9: at FPIR 0.1 one may be named -> threshold just above 0.8
    strangers = np.arange(10) / 10
    known = np.array([0.95, 0.85, 0.5, 0.99])
    correct = np.array([True, True, True, False])
    fnir, threshold = fnir_at_fpir(known, correct, strangers, 0.1)
    assert 0.8 < threshold <= 0.81 and fnir == pytest.approx(0.5)  # named right: 0.95 and 0.85 of 4
    assert fnir_at_fpir(known, correct, strangers, 0.0)[0] == pytest.approx(0.75)  # only 0.95 beats 0.9
    assert fnir_at_fpir(known, correct, strangers, 1.0)[0] == pytest.approx(0.25)  # all named; one wrongly


def test_people_not_faces():
    matches = [("Ann", 0.9), ("Bob", 0.85), ("Ann", 0.7), ("Cy", 0.6), ("Bob", 0.84)]
    assert [(p.name, p.score, p.faces) for p in person_scores(matches, "max")] == [
        ("Ann", 0.9, 2), ("Bob", 0.85, 2), ("Cy", 0.6, 1),
    ]  # fmt: skip
    top2 = person_scores(matches, "top2")
    assert [p.name for p in top2] == ["Bob", "Ann", "Cy"] and top2[0].score == pytest.approx(0.845)
    assert len(person_scores(matches, "max", limit=2)) == 2


def synthetic_world(seed: int = 0, people: int = 60, photos: int = 4, singles: int = 60, noise: float = 0.55):
    """Identities as random directions in 16-d; photos = direction + noise; singles = unrelated people."""
    rng = np.random.RandomState(seed)
    embeddings, roster = {}, {}
    for i in range(people + singles):
        centre = rng.normal(size=16)
        count = photos if i < people else 1
        roster[f"p{i}"] = [f"p{i}/{j}" for j in range(count)]
        for path in roster[f"p{i}"]:
            embeddings[path] = unit(centre + noise * np.linalg.norm(centre) / 4 * rng.normal(size=16))
    names = [f"p{i}" for i in range(people)]
    return embeddings, roster, names, [f"p{i}" for i in range(people, people + singles)]


def test_gallery_and_person_matrix_follow_the_protocol():
    embeddings, roster, names, strangers = synthetic_world(people=5, photos=3, singles=4)
    gallery = build_gallery(embeddings, roster, names, strangers, photos=2)
    assert len(gallery.vectors) == 10 and gallery.names.count("p0") == 2
    assert gallery.probe_names == [f"p{i}" for i in range(5)] + [None] * 4
    for aggregate in ("max", "top2", "centroid"):
        scores, people, counts = person_matrix(gallery, aggregate)
        assert scores.shape == (9, 5) and people == names and counts.tolist() == [2] * 5
    # with a person's photos as probes of themselves, max-aggregation ranks them first
    scores, _, _ = person_matrix(gallery, "max")
    assert (scores[:5].argmax(axis=1) == np.arange(5)).mean() >= 0.8


def test_simulated_galleries_cycle_photos_and_cap_the_share_of_strangers():
    embeddings, roster, names, strangers = synthetic_world(people=40, photos=4, singles=200)
    rounds = list(simulated_galleries(embeddings, roster, names, strangers, rounds=6, seed=3))
    assert [r for r, _ in rounds] == list(range(6))
    for r, gallery in rounds:
        per_person = {gallery.names.count(n) for n in gallery.people}
        assert per_person == {1 + r % 3}  # 1, 2, 3 photos by round
        known = sum(n is not None for n in gallery.probe_names)
        share = 1 - known / len(gallery.probe_names)
        assert 0 < share <= SIMULATED_STRANGER_SHARE  # plenty of singles: subsampled to the simulations' share
        assert set(gallery.probe_names) - {None} <= set(gallery.people)  # left-out people are never strangers
    again = list(simulated_galleries(embeddings, roster, names, strangers, rounds=6, seed=3))
    assert all(np.array_equal(a.probes, b.probes) for (_, a), (_, b) in zip(rounds, again, strict=True))


def test_the_report_counts_strangers_named_and_known_named_right_or_wrong():
    decisions = Decisions(
        best=["a", "b", "c", "d", "e"],
        score=np.array([0.9, 0.8, 0.3, 0.7, 0.2]),
        correct=np.array([True, False, True, False, False]),
        known=np.array([True, True, True, False, False]),
    )
    report = identification_report(decisions, threshold=0.5)
    assert report["rank1"] == pytest.approx(2 / 3)
    # known 0.9 and 0.8 beat both strangers, 0.3 only the 0.2 one: 5 of 6 pairs
    assert report["known_vs_unknown_auc"] == pytest.approx(5 / 6)
    assert report["strangers_named"] == pytest.approx(0.5)  # 0.7 of the two strangers
    assert report["known_named_correctly"] == pytest.approx(1 / 3)
    assert report["known_named_wrongly"] == pytest.approx(1 / 3)
    assert report["mean_probability_known"] == pytest.approx((0.9 + 0.8 + 0.3) / 3)
    assert report["mean_probability_strangers"] == pytest.approx((0.7 + 0.2) / 2)
    assert "ece_interval" not in report  # without the probes' identities there are no people to resample
    with_people = identification_report(replace(decisions, identity=["a", "a", "c", None, None]), threshold=0.5)
    interval = with_people["ece_interval"]
    assert 0.0 <= interval["low"] <= interval["high"] <= 1.0
    assert replace(decisions, identity=["a", "a", "c", None, None]).groups() == [
        "a",
        "a",
        "c",
        "stranger 3",
        "stranger 4",
    ]


def test_probability_plateaus_are_ranked_by_the_similarity_for_fnir_at_fpir():
    # an isotonic calibrator gives every probe the same P: on P alone no threshold names fewer than all strangers
    known = np.array([True] * 4 + [False] * 10)
    similarity = np.array([0.9, 0.8, 0.7, 0.2] + [0.1 * i / 10 for i in range(10)])
    plateau = dict(best=["a"] * 14, score=np.full(14, 0.6), correct=known.copy(), known=known)
    flat = identification_report(Decisions(**plateau), threshold=0.5)
    ranked = identification_report(Decisions(**plateau, tiebreak=similarity), threshold=0.5)
    assert flat["fnir_at_fpir_0.1"] == 1.0  # one stranger in ten may be named; the tie names all or none
    assert ranked["fnir_at_fpir_0.1"] == 0.0  # the known probes all outscore every stranger
    assert ranked["strangers_named"] == flat["strangers_named"] == 1.0  # the served threshold still acts on P
    assert det_curve(Decisions(**plateau, tiebreak=similarity))["fnir"][0] == 0.0
    # the same order decides the separation: none on P alone (every pair tied), all of it with the similarity
    assert flat["known_vs_unknown_auc"] == 0.5 and ranked["known_vs_unknown_auc"] == 1.0


def test_the_open_set_calibrator_fitted_on_some_people_holds_on_others():
    embeddings, roster, names, strangers = synthetic_world(seed=1, people=160, singles=200)
    cohort = np.stack(
        [embeddings[f"c{i}"] for i in range(0)] or [unit(v) for v in np.random.RandomState(9).normal(size=(300, 16))]
    )
    calibrator, report = fit_open_set(embeddings, roster, names[:80], strangers[:100], cohort, fpir_target=0.05)
    assert set(report["aggregates"]) == {"max", "top2", "centroid"}
    # the one with the best held-out detection rate, every aggregate being servable
    assert report["chosen"] == min(
        report["aggregates"], key=lambda a: report["aggregates"][a]["held_out_fnir_at_fpir_0.05"]
    )
    assert 0 < calibrator.threshold < 1
    assert calibrator.restatable and report["stranger_share"] == calibrator.stranger_share
    assert 0.2 < calibrator.stranger_share <= 0.41  # the simulations hold up to 40% strangers
    restored = OpenSetCalibrator.from_dict(calibrator.to_dict())
    pair = IsotonicCalibrator(np.array([-1.0, 1.0]), np.array([0.0, 1.0]))  # monotone in the best face's cosine
    results = evaluate_open_set(embeddings, roster, names[80:], strangers[100:], pair, restored, cohort, photos=(1, 3))
    for k in ("1_photos", "3_photos"):
        open_set, best_face = results[k]["open_set"], results[k]["pair"]
        # 80 known probes: within noise of the best-face rule at least (the benchmark measures the real gap)
        assert open_set["fnir_at_fpir_0.05"] <= best_face["fnir_at_fpir_0.05"] + 0.1, (k, open_set, best_face)
        assert open_set["ece_15_bins"] < 0.08, open_set
        assert open_set["strangers_named"] <= 0.12, open_set  # the dev-chosen threshold holds on new people
    # more photos per person: identification improves
    assert results["3_photos"]["open_set"]["rank1"] > results["1_photos"]["open_set"]["rank1"]


def synthetic_evidence(rng: np.random.RandomState, known: int, strangers: int):
    """Evidence rows where enrolled faces score higher than strangers and the best person is right more often the
    higher the score; strangers are never right."""
    top = np.concatenate([rng.normal(0.6, 0.1, known), rng.normal(0.4, 0.1, strangers)])
    features = np.column_stack([top, rng.normal(0, 1, (len(top), len(FEATURES) - 1))])
    is_known = np.arange(len(top)) < known
    correct = is_known & (rng.uniform(size=len(top)) < 1 / (1 + np.exp(-12 * (top - 0.55))))
    return features, correct, is_known


def test_a_stated_share_of_strangers_keeps_the_probability_honest_when_the_mix_changes():
    from facerec.train.openset import _fit

    rng = np.random.RandomState(0)
    features, correct, known = synthetic_evidence(rng, 14_000, 6_000)  # fitted with 30% strangers
    calibrator = _fit(features, correct, known, "max", 50)
    assert calibrator.restatable and calibrator.stranger_share == pytest.approx(0.3)
    features, correct, known = synthetic_evidence(rng, 4_000, 16_000)  # a deployment that sees 80% strangers
    told, untold = calibrator(features, 0.8), calibrator(features)
    assert abs(told.mean() - correct.mean()) < 0.01  # the same share named right as it says
    assert untold.mean() - correct.mean() > 0.05  # at the fitted mix it overstates
    assert expected_calibration_error(told, correct) < 0.5 * expected_calibration_error(untold, correct)


def test_the_evidence_normalises_the_best_person_by_their_own_centroid_against_the_cohort():
    from facerec.model.openset import cohort_statistics
    from facerec.train.openset import open_set_evidence

    embeddings, roster, names, strangers = synthetic_world(people=6, photos=3, singles=30)
    gallery = build_gallery(embeddings, roster, names, strangers[:5], photos=2)
    cohort = np.stack([embeddings[roster[n][0]] for n in strangers[5:]])
    features, best, _ = open_set_evidence(gallery, "max", cohort, cohort_top=4)
    for row, name in zip(features, best, strict=True):
        own = gallery.vectors[[n == name for n in gallery.names]].sum(axis=0)
        mean, std = cohort_statistics((own / np.linalg.norm(own))[None], cohort, 4)
        top = row[FEATURES.index("top")]
        assert row[FEATURES.index("gallery_z")] == pytest.approx((top - mean[0]) / std[0], rel=1e-4)  # float32 sims
