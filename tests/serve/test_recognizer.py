"""The recognizer's logic on synthetic faces: a tiny encoder, an in-memory index, a detector with fixed boxes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facerec.index import FaceRecord
from facerec.serve.recognizer import NO_FACE, UNKNOWN, RecognitionError, StaleIndexError
from facerec.testing.fakes import BoxDetector
from facerec.testing.synthetic import synthetic_face


def test_enrolled_people_are_named_and_strangers_are_unknown(recognizer):
    for person in range(4):
        enrolment = recognizer.enroll(synthetic_face(person, 0), f"P{person}", detect=False)
        assert enrolment.faces_detected == 1 and enrolment.record.name == f"P{person}"
    for person in range(4):
        (face,) = recognizer.recognize(synthetic_face(person, 1), k=3, threshold=0.5, detect=False)
        assert face.name == f"P{person}" and face.probability >= 0.5
        assert len(face.candidates) == 3 and face.candidates[0].name == f"P{person}"
    (stranger,) = recognizer.recognize(synthetic_face(77, 0), k=3, threshold=0.5, detect=False)
    assert stranger.name == UNKNOWN and stranger.probability < 0.5 and stranger.candidates


def test_no_face_is_one_message_for_every_route(recognizer):
    nobody = BoxDetector(boxes=[])
    recognizer.detector = nobody
    image = synthetic_face(1)
    for call in (
        lambda: recognizer.enroll(image, "P1"),
        lambda: recognizer.recognize(image, k=1, threshold=0.5),
        lambda: recognizer.verify(image, image),
    ):
        with pytest.raises(RecognitionError, match="no face found"):
            call()
    assert NO_FACE.startswith("no face found")
    assert recognizer.index.count() == 0


def test_several_faces_need_a_choice_and_the_choice_is_the_box_asked_for(recognizer):
    scene = Image.new("RGB", (600, 300))
    scene.paste(synthetic_face(1), (0, 0))
    scene.paste(synthetic_face(2).resize((200, 200)), (350, 50))
    recognizer.detector = BoxDetector(boxes=[(64, 64, 186, 186), (401, 101, 499, 199)])
    with pytest.raises(RecognitionError, match="2 faces found"):
        recognizer.enroll(scene, "Someone")
    with pytest.raises(RecognitionError, match="out of range"):
        recognizer.enroll(scene, "Someone", face=5)
    enrolment = recognizer.enroll(scene, "P2", face=1)
    assert enrolment.box == (401, 101, 499, 199) and enrolment.faces_detected == 2
    assert recognizer.index.people() == {"P2": 1}


def test_faces_of_another_model_are_refused_until_reindexed(recognizer):
    recognizer.enroll(synthetic_face(1), "P1", detect=False)
    stored = next(iter(recognizer.index.records()))
    recognizer.index.add([FaceRecord("Old", np.roll(stored.vector, 1), "older-model", crop_jpeg=stored.crop_jpeg)])
    with pytest.raises(StaleIndexError, match="older-model"):
        recognizer.recognize(synthetic_face(1, 1), k=2, threshold=0.5, detect=False)
    assert recognizer.reindex() == 1
    (face,) = recognizer.recognize(synthetic_face(1, 1), k=2, threshold=0.5, detect=False)
    assert {c.name for c in face.candidates} == {"P1", "Old"}


def test_deletes_remove_exactly_what_they_name(recognizer):
    ids = [recognizer.enroll(synthetic_face(1, p), "P1", detect=False).record.face_id for p in range(2)]
    keep = recognizer.enroll(synthetic_face(2), "P1 ", detect=False).record.face_id
    assert recognizer.delete_face(ids[0]) and not recognizer.delete_face(ids[0])
    assert recognizer.delete_person("P1") == 1
    assert [r.face_id for r in recognizer.index.records()] == [keep]


def test_verify_gives_a_similarity_and_a_calibrated_probability(recognizer):
    same, p_same = recognizer.verify(synthetic_face(3, 0), synthetic_face(3, 1), detect=False)
    other, p_other = recognizer.verify(synthetic_face(3, 0), synthetic_face(4, 0), detect=False)
    assert same > other and p_same > 0.5 > p_other


def test_candidates_are_distinct_people_and_runners_up_are_less_sure(recognizer):
    assert recognizer.bundle.open_set is not None  # the tiny bundle carries one, as trained bundles do
    for photo in range(3):
        recognizer.enroll(synthetic_face(1, photo), "P1", detect=False)
    for person in (2, 3, 4):
        recognizer.enroll(synthetic_face(person), f"P{person}", detect=False)
    (face,) = recognizer.recognize(synthetic_face(1, 3), k=3, detect=False)
    names = [c.name for c in face.candidates]
    assert names[0] == "P1" and len(set(names)) == len(names) == 3
    assert face.candidates[0].photos == 3 and face.candidates[1].photos == 1
    assert face.candidates[0].probability > face.candidates[1].probability >= face.candidates[2].probability


def test_a_stated_share_of_strangers_restates_the_probabilities(recognizer, monkeypatch):
    from dataclasses import replace

    from facerec.model.openset import FEATURES, LogisticIsotonic

    fitted = recognizer.bundle.open_set
    assert fitted.restatable  # bundles fitted today carry the two parts
    # the tiny bundle's synthetic people are told apart with certainty (P is 0 or 1, which no prior moves): parts
    # that answer in between, P(enrolled) = sigmoid(3 x the person's score), P(right | enrolled) = 0.9
    grid, coef = np.linspace(-10, 10, 201), np.eye(len(FEATURES))[0] * 3
    centre = np.zeros(len(FEATURES))
    # (on the session's shared bundle: monkeypatch puts the fitted calibrator back)
    monkeypatch.setattr(
        recognizer.bundle,
        "open_set",
        replace(
            fitted,
            known=LogisticIsotonic(centre, np.ones(len(FEATURES)), coef, 0.0, grid, 1 / (1 + np.exp(-grid))),
            right_if_known=LogisticIsotonic(centre, np.ones(len(FEATURES)), coef, 0.0, grid, np.full_like(grid, 0.9)),
        ),
    )
    for person in (1, 2, 3):
        recognizer.enroll(synthetic_face(person), f"P{person}", detect=False)
    answers = {}
    for share in (None, 0.95, 0.01):  # as fitted; a camera that mostly sees strangers; one that mostly sees family
        recognizer.stranger_share = share
        answers[share] = [
            [(c.name, c.probability) for c in face.candidates]
            for person in (1, 7)  # an enrolled person's other photo, and a stranger
            for face in recognizer.recognize(synthetic_face(person, 1), k=3, detect=False)
        ]
    names = {share: [[n for n, _ in face] for face in a] for share, a in answers.items()}
    assert names[None] == names[0.95] == names[0.01]  # the same people, in the same order
    fitted_p, strangers_p, known_p = (np.array([p for f in answers[s] for _, p in f]) for s in (None, 0.95, 0.01))
    assert (strangers_p < fitted_p).all() and (fitted_p < known_p).all()


def test_a_centroid_calibrator_scores_each_person_by_all_their_faces_with_one_request_per_photo(
    recognizer, monkeypatch
):
    from dataclasses import replace

    # (on the session's shared bundle: monkeypatch puts the fitted calibrator back)
    monkeypatch.setattr(recognizer.bundle, "open_set", replace(recognizer.bundle.open_set, aggregate="centroid"))
    for photo in range(3):
        recognizer.enroll(synthetic_face(1, photo), "P1", detect=False)
    recognizer.enroll(synthetic_face(2), "P2", detect=False)
    stored: dict[str, list[np.ndarray]] = {}
    for record in recognizer.index.records():
        stored.setdefault(record.name, []).append(record.vector)
    asked = []
    person_vectors = recognizer.index.person_vectors
    monkeypatch.setattr(
        recognizer.index, "person_vectors", lambda names, version: asked.append(names) or person_vectors(names, version)
    )
    scene = Image.new("RGB", (500, 250))
    scene.paste(synthetic_face(1, 3), (0, 0))
    scene.paste(synthetic_face(2, 1), (250, 0))
    recognizer.detector = BoxDetector(boxes=[(64, 64, 186, 186), (314, 64, 436, 186)])
    faces = recognizer.find_faces(scene)
    results = recognizer.identify(faces, recognizer.embed_faces(faces), k=2)
    assert asked == [["P1", "P2"]]  # both faces' candidates in one request to the index
    for result, query in zip(results, recognizer.embed_faces(faces), strict=True):
        for candidate in result.candidates:
            centroid = np.mean(stored[candidate.name], axis=0)
            assert candidate.similarity == pytest.approx(float(centroid @ query / np.linalg.norm(centroid)), abs=1e-5)
    assert [r.candidates[0].name for r in results] == ["P1", "P2"]
    assert results[0].candidates[0].photos == 3


def test_two_faces_of_one_person_in_one_photo_are_not_both_named_after_them(recognizer):
    recognizer.enroll(synthetic_face(1, 0), "P1", detect=False)
    recognizer.enroll(synthetic_face(2, 0), "P2", detect=False)
    scene = Image.new("RGB", (500, 250))
    scene.paste(synthetic_face(1, 1), (0, 0))
    scene.paste(synthetic_face(1, 2), (250, 0))
    recognizer.detector = BoxDetector(boxes=[(64, 64, 186, 186), (314, 64, 436, 186)])
    results = recognizer.recognize(scene, k=2, threshold=0.0)
    assert sorted(r.name for r in results) in (["P1", "P2"], ["P1", UNKNOWN])
    assert all(r.candidates[0].name == "P1" for r in results)  # both look like P1; only one face can be P1


def test_older_bundles_without_an_open_set_calibrator_fall_back_to_the_pair_calibrator(tmp_path):
    from facerec.model.bundle import load_bundle
    from facerec.model.runtime import TorchRuntime
    from facerec.serve.quality import QualityRules
    from facerec.serve.recognizer import Recognizer
    from facerec.testing.fakes import MemoryIndex
    from facerec.testing.synthetic import tiny_bundle

    bundle = load_bundle(str(tiny_bundle(tmp_path / "old", open_set=False)))
    assert bundle.open_set is None and bundle.cohort is None
    recognizer = Recognizer(
        bundle, MemoryIndex(32), BoxDetector(), runtime=TorchRuntime(bundle.encoder), quality_rules=QualityRules(0, 0)
    )
    assert recognizer.default_threshold == 0.5
    recognizer.enroll(synthetic_face(1), "P1", detect=False)
    (face,) = recognizer.recognize(synthetic_face(1, 1), k=1, detect=False)
    assert face.name == "P1" and face.probability == pytest.approx(
        float(bundle.calibrator(face.candidates[0].similarity))
    )


def test_a_person_who_resembles_the_cohort_is_named_with_less_confidence(recognizer, monkeypatch):
    """The person's side of the cohort normalisation: an enrolled person whose centroid looks like the cohort's faces
    (a hub, who scores high against any stranger) earns less from the same score than one who does not."""
    from dataclasses import replace

    from facerec.model.openset import FEATURES, LogisticIsotonic

    recognizer.enroll(synthetic_face(1, 0), "P1", detect=False)
    recognizer.enroll(synthetic_face(2, 0), "P2", detect=False)
    # a cohort of P2's other photos: P2 is the hub
    hub_photos = [recognizer.find_faces(synthetic_face(2, p), detect=False)[0] for p in range(2, 8)]
    monkeypatch.setattr(recognizer.bundle, "cohort", recognizer.embed_faces(hub_photos))
    grid, centre = np.linspace(-10, 10, 201), np.zeros(len(FEATURES))
    reads = {}
    for evidence_name in ("top", "gallery_z"):  # P(enrolled) = sigmoid(that one column); P(right | enrolled) = 0.9
        coef = np.eye(len(FEATURES))[FEATURES.index(evidence_name)]
        part = LogisticIsotonic(centre, np.ones(len(FEATURES)), coef, 0.0, grid, 1 / (1 + np.exp(-grid)))
        fitted = replace(recognizer.bundle.open_set, aggregate="max", features=FEATURES, known=part)
        right = replace(part, iso_y=np.full_like(grid, 0.9))
        monkeypatch.setattr(recognizer.bundle, "open_set", replace(fitted, right_if_known=right))
        assert recognizer.bundle.open_set.needs_person_vectors
        reads[evidence_name] = {
            person: recognizer.recognize(synthetic_face(person, 1), k=1, threshold=0.0, detect=False)[0]
            for person in (1, 2)
        }
    for answers in reads.values():
        assert [answers[p].name for p in (1, 2)] == ["P1", "P2"]
    raw = {p: reads["top"][p].probability for p in (1, 2)}
    normalised = {p: reads["gallery_z"][p].probability for p in (1, 2)}
    # the hub's own photo scores higher than P1's (raw evidence: more sure of P2), yet the hub's normalised evidence
    # is lower: its own photos are the cohort
    assert raw[2] > raw[1] and normalised[2] < normalised[1], (raw, normalised)


def test_a_bundle_with_extra_test_sizes_serves_the_embedding_it_was_evaluated_with(tiny_model):
    """The service embeds every face at each of the bundle's test input sizes through the ONNX graph and averages,
    exactly as evaluation (and the calibrators' fit) did with torch."""
    from dataclasses import replace

    from facerec.model.runtime import create_runtime
    from facerec.serve.recognizer import Recognizer
    from facerec.testing.fakes import MemoryIndex

    bundle = replace(tiny_model, preprocess=replace(tiny_model.preprocess, test_extra_sizes=(80,)))
    runtime = create_runtime(bundle.encoder, bundle.preprocess.eval_image_sizes, "onnx")
    recognizer = Recognizer(bundle, MemoryIndex(32), BoxDetector(), runtime=runtime)
    faces = [recognizer.find_faces(synthetic_face(3, photo), detect=False)[0] for photo in range(2)]
    served = recognizer.embed_faces(faces)
    evaluated = bundle.embed_crops([face.crop for face in faces]).numpy()
    one_size = tiny_model.embed_crops([face.crop for face in faces]).numpy()
    assert np.abs(served - evaluated).max() < 1e-4
    assert np.abs(served - one_size).max() > 1e-3
