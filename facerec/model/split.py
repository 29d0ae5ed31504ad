"""The split record: which people a model trained on, was selected and calibrated on, and is reported on.

It travels in the bundle (``split.json``) so that anyone can tell which people a served model has seen. How the
split is drawn is training's business (:func:`facerec.train.data.split_people`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

SPLIT_PARTS = ("train", "dev", "test")


@dataclass
class PersonSplit:
    """People with two or more photos, and people with one ("singles"), each cut into the same three parts.

    train: the encoder learns from them; dev: model selection and calibration (dev singles are the strangers the
    open-set calibrator learns to reject); test: reported metrics only (test singles are the test strangers).
    """

    train: list[str]
    dev: list[str]
    test: list[str]
    seed: int
    fractions: tuple[float, float, float]
    singles_train: list[str] = field(default_factory=list)
    singles_dev: list[str] = field(default_factory=list)
    singles_test: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> PersonSplit:
        data = json.loads(text)
        data["fractions"] = tuple(data["fractions"])
        if "singles" in data:  # written before singles had parts: every single was a test stranger
            data["singles_test"] = data.pop("singles")
        return cls(**data)

    def part(self, name: str) -> list[str]:
        if name not in SPLIT_PARTS:
            raise KeyError(name)
        return getattr(self, name)

    def singles(self, name: str) -> list[str]:
        if name not in SPLIT_PARTS:
            raise KeyError(name)
        return getattr(self, f"singles_{name}")
