"""Face index backends behind one interface: embedded (SQLite + FAISS, the default) and Elasticsearch."""

from __future__ import annotations

from .base import FaceIndex, FaceRecord, IndexBackendError, IndexUnavailable, Match

__all__ = ["FaceIndex", "FaceRecord", "IndexBackendError", "IndexUnavailable", "Match", "create_index"]


def create_index(settings, dim: int, model_version: str) -> FaceIndex:
    """The backend named by ``settings.index_backend`` (not yet connected)."""
    if settings.index_backend == "embedded":
        from .embedded import EmbeddedIndex

        return EmbeddedIndex(settings.index_path, dim, model_version, settings.ivf_min_vectors, settings.ivf_nprobe)
    from .elastic import ElasticsearchIndex

    return ElasticsearchIndex(
        settings.es_url,
        settings.es_index,
        dim,
        num_candidates=settings.es_num_candidates,
        username=settings.es_username,
        password=settings.es_password.get_secret_value() if settings.es_password else None,
        verify_certs=settings.es_verify_certs,
    )
