from __future__ import annotations

import pytest

from facerec.model.bundle import load_bundle
from facerec.model.runtime import TorchRuntime
from facerec.serve.quality import QualityRules
from facerec.serve.recognizer import Recognizer
from facerec.testing.fakes import BoxDetector, MemoryIndex


@pytest.fixture(scope="session")
def tiny_model(tiny_bundle_dir):
    return load_bundle(str(tiny_bundle_dir))


@pytest.fixture
def recognizer(tiny_model) -> Recognizer:
    """The real recognizer over the tiny bundle, an in-memory index and a detector that finds the whole image."""
    index = MemoryIndex(tiny_model.encoder.config.embedding_dim)
    # synthetic faces are smooth patterns: no rule against blur here (tests/serve/test_quality.py has its own)
    rules = QualityRules(min_sharpness=0)
    return Recognizer(tiny_model, index, BoxDetector(), runtime=TorchRuntime(tiny_model.encoder), quality_rules=rules)
