import pytest

from facerec.train.sampling import PKBatchSampler


def test_pk_sampler_batches_hold_p_people_with_k_images():
    labels = [0] * 5 + [1] * 2 + [2] * 3 + [3] * 6
    sampler = PKBatchSampler(labels, people_per_batch=3, images_per_person=4, num_batches=20, seed=1)
    batches = list(sampler)
    assert len(batches) == 20
    for batch in batches:
        people = [labels[i] for i in batch]
        assert len(batch) == 12 and len(set(people)) == 3
        assert all(people.count(p) == 4 for p in set(people))
        for p in set(people):  # distinct images whenever the person has enough
            chosen = [i for i in batch if labels[i] == p]
            assert len(set(chosen)) == min(4, labels.count(p))
    assert batches == list(PKBatchSampler(labels, 3, 4, 20, seed=1))


def test_lookalike_batches_draw_the_other_people_from_the_first_ones_neighbours():
    labels = [person for person in range(10) for _ in range(3)]
    # person p's look-alikes: the next three people (mod 10)
    neighbours = {p: [(p + 1) % 10, (p + 2) % 10, (p + 3) % 10] for p in range(10)}
    sampler = PKBatchSampler(labels, 3, 2, 50, seed=3, neighbours=neighbours, lookalike_batches=1.0)
    for batch in sampler:
        people = list(dict.fromkeys(labels[i] for i in batch))  # in batch order: the first is the drawn person
        assert len(people) == 3 and set(people[1:]) <= set(neighbours[people[0]])
    # half look-alike batches: some batches hold people outside every look-alike group of their first person
    mixed = PKBatchSampler(labels, 3, 2, 200, seed=3, neighbours=neighbours, lookalike_batches=0.5)
    outside = 0
    for batch in mixed:
        people = list(dict.fromkeys(labels[i] for i in batch))
        outside += not set(people[1:]) <= set(neighbours[people[0]])
    assert 0 < outside < 200
    with pytest.raises(ValueError, match="neighbours"):
        PKBatchSampler(labels, 3, 2, 5, lookalike_batches=0.5)
    with pytest.raises(ValueError, match="at least 2 neighbours"):
        PKBatchSampler(labels, 3, 2, 5, neighbours={p: [(p + 1) % 10] for p in range(10)}, lookalike_batches=0.5)


def test_without_lookalike_batches_the_batches_do_not_change():
    labels = [person for person in range(10) for _ in range(3)]
    neighbours = {p: [(p + 1) % 10, (p + 2) % 10] for p in range(10)}
    plain = list(PKBatchSampler(labels, 3, 2, 20, seed=5))
    assert plain == list(PKBatchSampler(labels, 3, 2, 20, seed=5, neighbours=neighbours, lookalike_batches=0.0))
