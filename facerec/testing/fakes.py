"""In-memory stand-ins for the index and the detector, for tests of the logic above them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

from ..index.base import FaceIndex, FaceRecord, Match
from ..serve.detection import Box, DetectedFace, align_face


class MemoryIndex(FaceIndex):
    """Exact cosine search over a dict; follows the :class:`FaceIndex` contract, keeps nothing on disk."""

    def __init__(self, dim: int):
        self.dim = dim
        self._records: dict[str, FaceRecord] = {}
        self.available = True

    def connect(self) -> None:
        pass

    def add(self, records: list[FaceRecord]) -> None:
        for record in records:
            if record.face_id in self._records:
                raise ValueError(f"duplicate face id {record.face_id}")
        self._records.update((r.face_id, r) for r in records)

    def search(self, vectors: np.ndarray, k: int, model_version: str) -> list[list[Match]]:
        candidates = [r for r in self._records.values() if r.model_version == model_version]
        results = []
        for query in np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim):
            scored = sorted(candidates, key=lambda r: -float(np.dot(r.vector, query)))[:k]
            results.append([Match(r.face_id, r.name, float(np.dot(r.vector, query))) for r in scored])
        return results

    def person_vectors(self, names: Sequence[str], model_version: str) -> dict[str, np.ndarray]:
        wanted, found = set(names), {}
        for record in self._records.values():
            if record.name in wanted and record.model_version == model_version:
                found.setdefault(record.name, []).append(np.asarray(record.vector, dtype=np.float32))
        return {name: np.stack(rows) for name, rows in found.items()}

    def people(self) -> dict[str, int]:
        return dict(sorted(Counter(r.name for r in self._records.values()).items()))

    def delete_faces(self, face_ids: list[str]) -> int:
        return sum(self._records.pop(face_id, None) is not None for face_id in face_ids)

    def face_ids(self, name: str) -> list[str]:
        return [f for f, r in self._records.items() if r.name == name]

    def model_versions(self) -> dict[str, int]:
        return dict(Counter(r.model_version for r in self._records.values()))

    def records(self) -> Iterator[FaceRecord]:
        yield from list(self._records.values())

    def update_vectors(self, updates: list[tuple[str, np.ndarray, str]]) -> None:
        for face_id, vector, version in updates:
            record = self._records[face_id]
            record.vector, record.model_version = np.asarray(vector, dtype=np.float32), version

    def ping(self) -> bool:
        return self.available


class BoxDetector:
    """A detector that "finds" faces at given boxes (largest first, as MTCNN's wrapper returns them)."""

    def __init__(self, boxes: list[Box] | None = None, probability: float = 0.99):
        self.boxes = boxes
        self.probability = probability

    def load(self) -> None:
        pass

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        boxes = self.boxes if self.boxes is not None else [(0.0, 0.0, float(image.width), float(image.height))]
        faces = [
            DetectedFace(box, self.probability, align_face(image, np.array(box), None))
            for box in boxes
        ]  # fmt: skip
        return sorted(faces, key=lambda face: face.area, reverse=True)
