"""Face index backends behind one interface: embedded (SQLite + FAISS, the default) and Elasticsearch."""

from __future__ import annotations

from .base import FaceIndex, FaceRecord, IndexBackendError, IndexUnavailable, Match

__all__ = ["FaceIndex", "FaceRecord", "IndexBackendError", "IndexUnavailable", "Match"]
