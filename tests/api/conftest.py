"""The service under test: a real (small) model bundle trained on LFW, on each index backend."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from api.main import create_app
from api.service import Service
from facerec.model.bundle import ModelBundle
from facerec.model.encoder import EncoderConfig, FaceEncoder
from facerec.serve.settings import Settings
from facerec.train.calibrate import fit_isotonic
from facerec.train.config import TrainConfig
from facerec.train.data import limit_split, split_people
from facerec.train.evaluation import DevProtocol, evaluate_verification
from facerec.train.training import train

from .helpers import BACKENDS, settings_for


def make_test_bundle(people: dict[str, list[str]], folder: Path, steps: int = 40) -> Path:
    """ImageNet Lite0 with a briefly trained projection, calibrated on real dev pairs by the flow's code."""
    torch.manual_seed(0)
    split = limit_split(split_people(people), 60)
    encoder = FaceEncoder(EncoderConfig(flip_tta=False))
    preprocess = encoder.default_preprocess(image_size=96)
    dev = DevProtocol.build(people, split.dev)
    config = TrainConfig(
        max_steps=steps,
        epochs=100,
        evals_per_epoch=1,
        patience=100,
        augmentation="low",
        distill_weight=0,
        centre_weight=0,
        # 40 steps: an average over them would only lag the weights; these tests need a model, not the recipe
        ema_decay=0,
    )
    train(encoder, people, split.train, dev, preprocess, config, progress=False)
    calibrator = fit_isotonic(evaluate_verification(encoder, preprocess, dev.pairs), dev.pairs.labels)
    bundle = ModelBundle(encoder, preprocess, calibrator, split, metrics={"roc_auc": None})
    return bundle.save(folder)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, lfw_people):
    return make_test_bundle(lfw_people, tmp_path_factory.mktemp("bundle") / "model")


@pytest.fixture(params=BACKENDS)
def service(request, tmp_path, bundle_dir):
    service = Service.start(settings_for(request.param, tmp_path, bundle_dir, request))
    yield service
    service.close()


@pytest.fixture
def client(service):
    with TestClient(create_app(service=service)) as client:
        yield client


@pytest.fixture(scope="session")
def tiny_service(tiny_bundle_dir, tmp_path_factory):
    """The service around the tiny synthetic bundle on an embedded index: no LFW, starts in about a second."""
    settings = Settings(
        _env_file=None,
        model_uri=str(tiny_bundle_dir),
        index={"path": str(tmp_path_factory.mktemp("index") / "faces.sqlite3")},
        inference={"threads": 1},
        quality={"min_sharpness": 0},  # synthetic faces are smooth patterns: no rule against blur here
    )
    service = Service.start(settings)
    yield service
    service.close()


@pytest.fixture
def tiny_client(tiny_service):
    """``tiny_client(client=("203.0.113.9", 5000), api_key=...)``: a TestClient on the tiny service whose settings
    carry the given overrides (the model and index are shared); the index is emptied afterwards."""
    clients = []

    def make(client: tuple[str, int] = ("testclient", 50000), **overrides) -> TestClient:
        settings = tiny_service.settings
        if overrides:
            settings = Settings.model_validate(settings.model_dump() | overrides)
        service = dataclasses.replace(tiny_service, settings=settings)
        test_client = TestClient(create_app(service=service), client=client, raise_server_exceptions=False)
        clients.append(test_client.__enter__())
        return test_client

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)
    for name in list(tiny_service.recognizer.index.people()):
        tiny_service.recognizer.delete_person(name)
