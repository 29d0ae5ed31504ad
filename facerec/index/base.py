"""One interface for the face index; records carry the model version that embedded them."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np


class IndexBackendError(RuntimeError):
    """The index backend is unreachable or failed; the message is meant for the operator."""


class IndexUnavailable(IndexBackendError):
    """The backend cannot be reached (server down, file not writable)."""


def new_face_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class FaceRecord:
    name: str
    vector: np.ndarray
    model_version: str
    face_id: str = field(default_factory=new_face_id)
    created_at: str = field(default_factory=utc_now)
    crop_jpeg: bytes | None = None  # the aligned face crop, kept so faces can be re-embedded by a new model


@dataclass(frozen=True)
class Match:
    face_id: str
    name: str
    similarity: float  # cosine similarity


class FaceIndex(ABC):
    """Stores face embeddings by person and finds the nearest ones by cosine similarity."""

    dim: int

    @abstractmethod
    def connect(self) -> None:
        """Open / create the storage; raises IndexUnavailable with a clear message when it cannot."""

    @abstractmethod
    def add(self, records: list[FaceRecord]) -> None: ...

    @abstractmethod
    def search(self, vectors: np.ndarray, k: int, model_version: str) -> list[list[Match]]:
        """Top-``k`` matches for each query vector, among faces embedded by ``model_version``."""

    @abstractmethod
    def person_vectors(self, names: Sequence[str], model_version: str) -> dict[str, np.ndarray]:
        """Every face vector of each of ``names`` embedded by ``model_version`` (one row per face; people without
        such faces are left out): what scoring a person by the centroid of their faces needs beyond a search."""

    @abstractmethod
    def people(self) -> dict[str, int]:
        """Person name -> number of faces."""

    @abstractmethod
    def delete_faces(self, face_ids: list[str]) -> int:
        """Remove exactly these faces; returns how many existed. Deleting a person is deleting their face ids, so a
        face enrolled meanwhile is never removed unseen."""

    @abstractmethod
    def face_ids(self, name: str) -> list[str]:
        """Ids of every face of ``name``."""

    @abstractmethod
    def model_versions(self) -> dict[str, int]:
        """Model version -> number of faces embedded by it."""

    @abstractmethod
    def records(self) -> Iterator[FaceRecord]:
        """Every stored face, with its crop when kept (for re-embedding); streamed, not loaded at once."""

    @abstractmethod
    def update_vectors(self, updates: list[tuple[str, np.ndarray, str]]) -> None:
        """Replace (face_id, vector, model_version) of existing faces."""

    @abstractmethod
    def ping(self) -> bool: ...

    def count(self) -> int:
        return sum(self.people().values())

    def close(self) -> None:  # noqa: B027 - optional for backends holding no resources
        """Release connections and files."""
