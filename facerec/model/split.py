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
    """Which people the model trained on (train), was selected and calibrated on (dev), and is reported on (test)."""

    train: list[str]
    dev: list[str]
    test: list[str]
    seed: int
    fractions: tuple[float, float, float]
    # people with a single image: never trained on; open-set "unknown" probes at test time
    singles: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> PersonSplit:
        data = json.loads(text)
        data["fractions"] = tuple(data["fractions"])
        return cls(**data)

    def part(self, name: str) -> list[str]:
        if name not in SPLIT_PARTS:
            raise KeyError(name)
        return getattr(self, name)
