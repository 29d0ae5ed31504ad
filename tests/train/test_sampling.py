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
