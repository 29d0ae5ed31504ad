import numpy as np
import pytest
import torch

from facerec.model.encoder import EncoderConfig, FaceEncoder
from facerec.model.preprocess import load_rgb, preprocess
from facerec.testing.synthetic import tiny_encoder, tiny_preprocess, write_synthetic_dataset
from facerec.train.data import images_of, scan_people, split_people
from facerec.train.evaluation import build_pairs
from facerec.train.losses import CosFaceHead
from facerec.train.sampling import PKBatchSampler
from facerec.train.training import TrainConfig, make_loss, train


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


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 30}, "not a multiple"),
        ({"batch_size": 4}, "at least 2 people"),
        ({"images_per_person": 1}, "images_per_person must be >= 2"),
        ({"augmentation": "extreme"}, "augmentation must be one of"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"cosface_weight": 1.0, "cosface_margin": 1.5}, "cosface_margin in"),
    ],
)
def test_bad_training_settings_fail_fast(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes).validate()


@pytest.mark.slow
def test_short_real_training_lowers_the_loss(lfw_people):
    """Real backbone, real LFW images: 30 steps lower the batch-hard loss on a fixed batch of training people."""
    torch.manual_seed(0)
    split = split_people(lfw_people)
    train_names = [n for n in split.train if len(lfw_people[n]) >= 4][:16]
    encoder = FaceEncoder(EncoderConfig())
    preprocess_config = encoder.default_preprocess(image_size=96)
    fixed = [item for name in train_names[:8] for item in images_of(lfw_people, [name])[:4]]
    batch = preprocess([load_rgb(item.path) for item in fixed], preprocess_config)
    labels = torch.tensor([train_names.index(item.person) for item in fixed])
    config = TrainConfig(
        batch_size=32, max_steps=30, epochs=100, lr=2e-3, evals_per_epoch=1, patience=100, augmentation="low"
    )
    loss_fn = make_loss(config)

    def fixed_batch_loss() -> float:
        # batch statistics, as in training: 30 steps are too few for BatchNorm's running averages to settle
        encoder.train()
        with torch.no_grad():
            return loss_fn(encoder(batch), labels).item()

    before = fixed_batch_loss()
    dev_pairs = build_pairs(lfw_people, split.dev[:10])
    result = train(encoder, lfw_people, train_names, dev_pairs, preprocess_config, config, progress=False)
    after = fixed_batch_loss()
    assert result.steps == 30 and result.images_seen == 30 * 32
    assert after < 0.8 * before, (before, after)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert np.isfinite(result.best_dev_auc)


def test_cosface_head_penalises_the_true_class_by_its_margin_and_learns_centres():
    torch.manual_seed(0)
    head = CosFaceHead(embedding_dim=8, num_classes=4, scale=10.0, margin=0.35)
    labels = torch.tensor([0, 1, 2, 3])
    at_centres = torch.nn.functional.normalize(head.centres.detach(), dim=1)
    without_margin = CosFaceHead(8, 4, scale=10.0, margin=0.0)
    without_margin.centres = head.centres
    assert head(at_centres, labels) > without_margin(at_centres, labels)
    # embeddings far from their centres: a few steps on the centres alone bring the loss down
    embeddings = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    optimizer = torch.optim.SGD(head.parameters(), lr=1.0)
    before = head(embeddings, labels).item()
    for _ in range(20):
        optimizer.zero_grad()
        head(embeddings, labels).backward()
        optimizer.step()
    assert head(embeddings, labels).item() < 0.5 * before


@pytest.mark.parametrize("mode", ["relation", "embedding"])
def test_training_with_distillation_runs_and_needs_the_teacher(tmp_path, mode):
    people = scan_people(write_synthetic_dataset(tmp_path / "faces", n_people=12, photos=4))
    names = sorted(people)
    encoder = tiny_encoder()
    dev_pairs = build_pairs(people, names[8:])
    config = TrainConfig(batch_size=16, max_steps=3, evals_per_epoch=1, distill_weight=1.0, distill_mode=mode)
    with pytest.raises(ValueError, match="teacher"):
        train(encoder, people, names[:8], dev_pairs, tiny_preprocess(), config, progress=False)
    paths = [item.path for item in images_of(people, names[:8])]
    vectors = np.random.default_rng(0).normal(size=(len(paths), 128)).astype(np.float32)
    teacher = dict(zip(paths, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), strict=True))
    result = train(encoder, people, names[:8], dev_pairs, tiny_preprocess(), config, progress=False, teacher=teacher)
    assert result.steps == 3 and np.isfinite(result.history[-1]["loss"]) and np.isfinite(result.best_dev_auc)
