"""The dev protocol model selection measures, on hand-made embeddings where the answers are known."""

import numpy as np
import pytest

from facerec.train.evaluation import DevProtocol, identification_metrics


def people_and_embeddings():
    """Four people with three photos each and three strangers, each on an axis of their own, except Ann's first
    photo, which lies on an axis of nobody's, and her other two, which lean towards Dan: enrolled with her first
    photo, Ann's other photos find Dan."""
    people = {name: [f"{name}/{i}.jpg" for i in range(3)] for name in ("ann", "bob", "cat", "dan")}
    people |= {f"stranger{i}": [f"stranger{i}/0.jpg"] for i in range(3)}
    axes = {"ann": 0, "bob": 1, "cat": 2, "dan": 3, "stranger0": 4, "stranger1": 5, "stranger2": 6}
    embeddings = {}
    for name, paths in people.items():
        for i, path in enumerate(paths):
            vector = np.full(8, 0.01)
            if (name, i) == ("ann", 0):
                vector[7] = 1.0
            else:
                vector[axes[name]] = 1.0
                vector[axes["dan"]] += 0.2 if name == "ann" else 0.0
            embeddings[path] = vector / np.linalg.norm(vector)
    return people, embeddings


def test_one_draw_enrols_each_persons_first_photo():
    people, _ = people_and_embeddings()
    dev = DevProtocol.build(people, ["ann", "bob", "cat", "dan"], ["stranger0", "stranger1", "stranger2"])
    [(gallery, labels, probes, probe_labels)] = dev.galleries
    assert gallery == ["ann/0.jpg", "bob/0.jpg", "cat/0.jpg", "dan/0.jpg"] and labels == ["ann", "bob", "cat", "dan"]
    assert len(probes) == 4 * 2 + 3 and probe_labels.count(None) == 3
    assert not set(gallery) & set(probes)


def test_more_draws_enrol_other_photos_and_average_what_each_finds():
    people, embeddings = people_and_embeddings()
    names, strangers = ["ann", "bob", "cat", "dan"], ["stranger0", "stranger1", "stranger2"]
    dev = DevProtocol.build(people, names, strangers, seed=3, gallery_draws=6)
    assert len(dev.galleries) == 6 and dev.galleries[0][0] == ["ann/0.jpg", "bob/0.jpg", "cat/0.jpg", "dan/0.jpg"]
    assert len({tuple(gallery) for gallery, *_ in dev.galleries}) > 1  # later draws enrol other photos
    for gallery, _, probes, _ in dev.galleries:
        assert not set(gallery) & set(probes) and len(probes) == 4 * 2 + 3
    per_draw = [identification_metrics(embeddings, *g) for g in dev.galleries]
    # enrolled with her first photo, Ann's two probes find Dan: rank-1 6/8; other draws enrol another of hers
    assert per_draw[0]["open_set_rank1"] == 0.75 and max(m["open_set_rank1"] for m in per_draw) > 0.75
    measured = dev.identification(embeddings)
    assert measured["dev_rank1"] == pytest.approx(np.mean([m["open_set_rank1"] for m in per_draw]))
    expected_dir = np.mean([1 - m["open_set_fnir_at_fpir_0.05"] for m in per_draw])
    assert measured["dev_dir_at_fpir_0.05"] == pytest.approx(expected_dir)
    assert dev.identification(embeddings) != DevProtocol.build(people, names, strangers).identification(embeddings)


def test_without_strangers_only_rank1_and_at_least_one_draw():
    people, embeddings = people_and_embeddings()
    measured = DevProtocol.build(people, ["ann", "bob"], gallery_draws=2).identification(embeddings)
    assert set(measured) == {"dev_rank1"}
    with pytest.raises(ValueError, match="gallery_draws"):
        DevProtocol.build(people, ["ann", "bob"], gallery_draws=0)
