import itertools
import time

import numpy as np
import pytest
import torch

from facerec.model.encoder import EncoderConfig, FaceEncoder
from facerec.model.preprocess import load_rgb, preprocess
from facerec.testing.synthetic import tiny_encoder, tiny_preprocess, write_synthetic_dataset
from facerec.train.config import TrainConfig
from facerec.train.data import images_of, scan_people, split_people
from facerec.train.evaluation import DevProtocol
from facerec.train.losses import BatchHardTripletLoss
from facerec.train.training import train, training_device


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 30}, "not a multiple"),
        ({"batch_size": 4}, "at least 2 people"),
        ({"images_per_person": 1}, "images_per_person must be >= 2"),
        ({"augmentation": "extreme"}, "augmentation must be one of"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"cosface_weight": 1.0, "cosface_margin": 1.5}, "cosface_margin in"),
        ({"distill_memory": 64, "distill_mode": "embedding"}, "distill_memory"),
        ({"lookalike_batches": 1.5}, "lookalike_batches must lie"),
        ({"lookalike_batches": 0.5, "lookalike_pool": 3}, "lookalike_pool"),
        ({"dev_gallery_draws": 0}, "dev_gallery_draws must be >= 1"),
        ({"frozen_stages": -2}, "frozen_stages must be >= -1"),
        ({"evals_per_epoch": -1}, "evals_per_epoch must be >= 0"),
        ({"device": "tpu"}, "device must be one of"),
        ({"num_workers": -1}, "num_workers must be >= 0"),
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
        batch_size=32,
        max_steps=30,
        epochs=100,
        lr=2e-3,
        evals_per_epoch=1,
        patience=100,
        augmentation="low",
        distill_weight=0,
        centre_weight=0,
    )
    loss_fn = BatchHardTripletLoss(config.margin)

    def fixed_batch_loss() -> float:
        # batch statistics, as in training: 30 steps are too few for BatchNorm's running averages to settle
        encoder.train()
        with torch.no_grad():
            return loss_fn(encoder(batch), labels).item()

    before = fixed_batch_loss()
    dev = DevProtocol.build(lfw_people, split.dev[:10])
    result = train(encoder, lfw_people, train_names, dev, preprocess_config, config, progress=False)
    after = fixed_batch_loss()
    assert result.steps == 30 and result.images_seen == 30 * 32
    assert after < 0.8 * before, (before, after)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert np.isfinite(result.best_dev_auc)


def ten_synthetic_people(folder):
    """Ten synthetic people of 4 photos: the first 8 to train on, the last 2 as dev."""
    people = scan_people(write_synthetic_dataset(folder / "faces", n_people=10, photos=4))
    names = sorted(people)
    return people, names, DevProtocol.build(people, names[8:])


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "changes",
    [
        {"distill_mode": "relation"},
        {"distill_mode": "embedding"},
        {"distill_weight": 0, "singles_per_batch": 4},
        {"singles_per_batch": 4, "centre_weight": 1.0, "cosface_weight": 0.5},
        {"distill_memory": 32, "lookalike_batches": 0.5, "lookalike_pool": 5},
        {"centre_singles": True},
    ],
)
def test_every_objective_trains_on_synthetic_people_and_needs_its_teacher(tmp_path, changes):
    people = scan_people(write_synthetic_dataset(tmp_path / "faces", n_people=12, photos=4, singles=10))
    names = sorted(n for n, paths in people.items() if len(paths) > 1)
    singles = sorted(n for n, paths in people.items() if len(paths) == 1)
    dev = DevProtocol.build(people, names[8:], singles[6:])
    config = TrainConfig(batch_size=16, max_steps=3, evals_per_epoch=1, max_minutes=0, **changes)
    if config.needs_teacher:
        with pytest.raises(ValueError, match="teacher"):
            train(tiny_encoder(), people, names[:8], dev, tiny_preprocess(), config, progress=False)
    paths = [item.path for item in images_of(people, names[:8] + singles[:6])]
    vectors = np.random.default_rng(0).normal(size=(len(paths), 128)).astype(np.float32)
    teacher = dict(zip(paths, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), strict=True))
    result = train(
        tiny_encoder(), people, names[:8], dev, tiny_preprocess(), config, teacher=teacher,
        train_singles=singles[:6], progress=False,
    )  # fmt: skip
    assert result.steps == 3 and result.images_seen == 3 * (16 + config.singles_per_batch)
    last = result.history[-1]
    assert np.isfinite(last["loss"]) and {"dev_auc", "dev_rank1", "dev_dir_at_fpir_0.05"} <= set(last)
    assert set(k for k in last if k.startswith("loss_")) >= {"loss_triplet"}


def test_frozen_stages_keep_their_weights_while_the_rest_trains_and_are_thawed_after(tmp_path):
    people, names, dev = ten_synthetic_people(tmp_path)
    encoder = tiny_encoder()
    before = {name: p.detach().clone() for name, p in encoder.named_parameters()}
    config = TrainConfig(
        batch_size=16, max_steps=3, evals_per_epoch=1, max_minutes=0, distill_weight=0, centre_weight=0,
        frozen_stages=1,
    )  # fmt: skip
    train(encoder, people, names[:8], dev, tiny_preprocess(), config, progress=False)
    early = ("backbone.conv_stem.", "backbone.bn1.", "backbone.blocks.0.")
    for name, param in encoder.named_parameters():
        assert param.requires_grad, name
        if name.startswith(early):
            assert torch.equal(param, before[name]), name
    changed = [name for name, p in encoder.named_parameters() if not torch.equal(p, before[name])]
    assert any(name.startswith("backbone.blocks.1.") for name in changed)
    assert any(name.startswith("projection.") for name in changed)


def test_an_evaluation_that_leaves_less_time_than_it_took_ends_training_without_another(tmp_path, monkeypatch):
    # two steps per epoch, each epoch-end evaluation 2 s in a 4 s budget: after the first (at ~3 s) the rest
    # would buy a few steps and another evaluation past the budget, so the run stops there (steps 531 and 532 of a
    # demo run were evaluated one after the other)
    people, names, dev = ten_synthetic_people(tmp_path)
    measure = DevProtocol.measure

    def slow_measure(self, *args, **kwargs):
        time.sleep(2.0)
        return measure(self, *args, **kwargs)

    monkeypatch.setattr(DevProtocol, "measure", slow_measure)
    config = TrainConfig(
        batch_size=16, evals_per_epoch=1, max_minutes=4 / 60, distill_weight=0, centre_weight=0, epochs=50
    )
    result = train(tiny_encoder(), people, names[:8], dev, tiny_preprocess(), config, progress=False)
    assert result.stop_reason.startswith("time budget")
    assert [record["step"] for record in result.history] == [result.steps] == [2]


def test_without_evaluations_per_epoch_dev_is_measured_once_when_training_ends(tmp_path, monkeypatch):
    people, names, dev = ten_synthetic_people(tmp_path)
    config = TrainConfig(
        batch_size=16, max_steps=5, evals_per_epoch=0, max_minutes=0, distill_weight=0, centre_weight=0, epochs=50
    )
    result = train(tiny_encoder(), people, names[:8], dev, tiny_preprocess(), config, progress=False)
    # two steps per epoch, five steps: with evaluations per epoch there would be two before the last
    assert [record["step"] for record in result.history] == [result.steps] == [result.best_step] == [5]
    assert result.stop_reason == "finished 5 steps"


def test_with_a_weight_average_the_average_is_what_is_evaluated_selected_and_returned(tmp_path, monkeypatch):
    people, names, dev = ten_synthetic_people(tmp_path)
    measure = DevProtocol.measure
    encoder = tiny_encoder()
    evaluated: list[tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []

    def recording_measure(self, model, *args, **kwargs):
        evaluated.append((model, snapshot(model), snapshot(encoder)))
        return measure(self, model, *args, **kwargs)

    monkeypatch.setattr(DevProtocol, "measure", recording_measure)
    config = TrainConfig(
        batch_size=16, max_steps=6, evals_per_epoch=2, max_minutes=0, distill_weight=0, centre_weight=0,
        ema_decay=0.99, patience=10,
    )  # fmt: skip
    result = train(encoder, people, names[:8], dev, tiny_preprocess(), config, progress=False)
    assert len(evaluated) == len(result.history) == 6
    # the average is a separate model: the one being trained is never what dev sees, and its weights are not the
    # raw ones of the same step
    assert all(model is not encoder for model, _, _ in evaluated)
    for _, average, raw in evaluated:
        trained = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], evaluated[0][2][k])]
        assert all(not torch.equal(average[k], raw[k]) for k in trained)
    # and it follows training: every evaluation sees it moved
    for (_, before, _), (_, after, _) in itertools.pairwise(evaluated):
        assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    best = next(
        state
        for (_, state, _), record in zip(evaluated, result.history, strict=True)
        if record["step"] == result.best_step
    )
    returned = encoder.state_dict()
    assert all(torch.equal(returned[k], best[k]) for k in best)


def test_device_auto_trains_on_a_gpu_only_where_torch_sees_one_and_cuda_without_one_fails_with_the_reason(
    monkeypatch,
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("auto").type == training_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        training_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto").type == "cuda"
    assert training_device("cpu").type == "cpu"


def test_asking_for_cuda_where_there_is_none_fails_before_any_step(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    people, names, dev = ten_synthetic_people(tmp_path)
    config = TrainConfig(batch_size=16, max_steps=2, distill_weight=0, centre_weight=0, device="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        train(tiny_encoder(), people, names[:8], dev, tiny_preprocess(), config, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the device machine)")
def test_on_a_gpu_the_loop_runs_there_and_returns_the_selected_average_on_the_cpu(tmp_path):
    """A `--with kubernetes` step on a GPU node: the loop, the weight average, the teacher's vectors and dev
    evaluations on the GPU; the caller gets its encoder back where it gave it, holding the selected weights."""
    people = scan_people(write_synthetic_dataset(tmp_path / "faces", n_people=12, photos=4, singles=10))
    names = sorted(n for n, paths in people.items() if len(paths) > 1)
    singles = sorted(n for n, paths in people.items() if len(paths) == 1)
    dev = DevProtocol.build(people, names[8:], singles[6:])
    paths = [item.path for item in images_of(people, names[:8] + singles[:6])]
    vectors = np.random.default_rng(0).normal(size=(len(paths), 128)).astype(np.float32)
    teacher = dict(zip(paths, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), strict=True))
    encoder = tiny_encoder()
    before = snapshot(encoder)
    config = TrainConfig(
        batch_size=16, max_steps=4, evals_per_epoch=1, max_minutes=0, singles_per_batch=4, ema_decay=0.9,
        device="auto", num_workers=2,
    )  # fmt: skip
    result = train(
        encoder, people, names[:8], dev, tiny_preprocess(), config, teacher=teacher, train_singles=singles[:6],
        progress=False,
    )  # fmt: skip
    assert result.device == "cuda" and result.steps == 4
    assert all(p.device.type == "cpu" for p in encoder.parameters())
    assert any(not torch.equal(v, before[k]) for k, v in encoder.state_dict().items() if v.is_floating_point())
    assert all(np.isfinite(record["loss"]) and 0 <= record["dev_auc"] <= 1 for record in result.history)
