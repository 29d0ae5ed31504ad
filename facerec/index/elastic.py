"""Elasticsearch 8 backend: dense_vector (cosine, HNSW) kNN, for indexes that outgrow one machine."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Sequence

import numpy as np

from .base import FaceIndex, FaceRecord, IndexBackendError, IndexUnavailable, Match

PEOPLE_CACHE_S = 2.0
MAX_PAGE = 10_000  # Elasticsearch's default index.max_result_window


def mapping(dim: int) -> dict:
    return {
        "properties": {
            "face_id": {"type": "keyword"},
            "name": {"type": "keyword"},
            # plain HNSW: the int8 default quantises vectors, and scores converted back to cosine drift by ~0.01-0.05
            "embedding": {
                "type": "dense_vector",
                "dims": dim,
                "index": True,
                "similarity": "cosine",
                "index_options": {"type": "hnsw", "m": 16, "ef_construction": 100},
            },
            "model_version": {"type": "keyword"},
            "created_at": {"type": "date"},
            "crop_jpeg": {"type": "binary"},
        }
    }


class ElasticsearchIndex(FaceIndex):
    def __init__(
        self,
        url: str,
        index: str,
        dim: int,
        num_candidates: int = 100,
        username: str | None = None,
        password: str | None = None,
        verify_certs: bool = True,
    ):
        self.url, self.index, self.dim, self.num_candidates = url, index, dim, num_candidates
        self._auth = (username, password) if username else None
        self._verify_certs = verify_certs
        self._es = None
        self._people_cache: tuple[float, dict[str, int]] | None = None

    def _call(self, what: str, fn, *args, **kwargs):
        """Run a client call, turning transport failures into one clear message."""
        from elasticsearch import ApiError, ConnectionError, ConnectionTimeout

        try:
            return fn(*args, **kwargs)
        except (ConnectionError, ConnectionTimeout) as exc:
            raise IndexUnavailable(f"Elasticsearch at {self.url} is unreachable ({what}): {exc}") from exc
        except ApiError as exc:
            raise IndexBackendError(f"Elasticsearch refused {what}: {exc}") from exc

    def _call_iter(self, what: str, iterator):
        """Yield from a streaming client call, turning transport failures into one clear message."""
        from elasticsearch import ApiError, ConnectionError, ConnectionTimeout

        try:
            yield from iterator
        except (ConnectionError, ConnectionTimeout) as exc:
            raise IndexUnavailable(f"Elasticsearch at {self.url} is unreachable ({what}): {exc}") from exc
        except ApiError as exc:
            raise IndexBackendError(f"Elasticsearch refused {what}: {exc}") from exc

    def connect(self) -> None:
        from elasticsearch import BadRequestError, Elasticsearch

        # retries with back-off on connection errors and timeouts (the client waits between attempts)
        self._es = Elasticsearch(
            self.url,
            basic_auth=self._auth,
            verify_certs=self._verify_certs,
            request_timeout=10,
            max_retries=3,
            retry_on_timeout=True,
        )
        if not self._call("a ping", self._es.ping):
            raise IndexUnavailable(
                f"Elasticsearch at {self.url} is unreachable: no answer to a ping (check ES_URL, credentials)"
            )
        if not self._call("an index check", self._es.indices.exists, index=self.index):
            try:
                self._es.indices.create(index=self.index, mappings=mapping(self.dim))
            except BadRequestError as exc:  # created concurrently by another replica
                if "resource_already_exists" not in str(exc):
                    raise IndexBackendError(f"cannot create index {self.index}: {exc}") from exc
        found = self._call("the mapping", self._es.indices.get_mapping, index=self.index)
        dims = found[self.index]["mappings"]["properties"]["embedding"].get("dims")
        if dims is not None and int(dims) != self.dim:
            raise IndexBackendError(
                f"index {self.index} holds {dims}-d vectors but the model makes {self.dim}-d ones; "
                "use another ES_INDEX or delete the index"
            )

    def add(self, records: list[FaceRecord]) -> None:
        from elasticsearch.helpers import BulkIndexError, bulk

        actions = [
            {
                "_index": self.index,
                "_id": r.face_id,
                "_op_type": "create",
                "face_id": r.face_id,
                "name": r.name,
                "embedding": np.asarray(r.vector, dtype=np.float32).tolist(),
                "model_version": r.model_version,
                "created_at": r.created_at,
                **({"crop_jpeg": base64.b64encode(r.crop_jpeg).decode()} if r.crop_jpeg else {}),
            }
            for r in records
        ]
        self._people_cache = None
        try:
            self._call("a bulk insert", bulk, self._es, actions, refresh="wait_for")
        except BulkIndexError as exc:
            raise IndexBackendError(f"Elasticsearch rejected {len(exc.errors)} faces: {exc.errors[:1]}") from exc

    def search(self, vectors: np.ndarray, k: int, model_version: str) -> list[list[Match]]:
        results = []
        for vector in np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim):
            response = self._call(
                "a kNN search",
                self._es.search,
                index=self.index,
                knn={
                    "field": "embedding",
                    "query_vector": vector.tolist(),
                    "k": k,
                    "num_candidates": max(k, self.num_candidates),
                    "filter": {"term": {"model_version": model_version}},
                },
                source=["face_id", "name"],
                size=k,
            )
            # Elasticsearch scores cosine similarity as (1 + cos) / 2
            results.append(
                [
                    Match(hit["_source"]["face_id"], hit["_source"]["name"], 2 * float(hit["_score"]) - 1)
                    for hit in response["hits"]["hits"]
                ]
            )
        return results

    def person_vectors(self, names: Sequence[str], model_version: str) -> dict[str, np.ndarray]:
        from elasticsearch.helpers import scan

        if not names:
            return {}
        query = {
            "bool": {"filter": [{"terms": {"name": sorted(set(names))}}, {"term": {"model_version": model_version}}]}
        }
        # one plain search answers a recognition's few dozen candidates; a scroll only where they hold more faces
        # than one page (a scroll per recognition would cost a search context each time)
        response = self._call(
            "a search for people's faces",
            self._es.search,
            index=self.index,
            query=query,
            source=["name", "embedding"],
            size=MAX_PAGE,
            track_total_hits=True,
        )
        hits = response["hits"]["hits"]
        if response["hits"]["total"]["value"] > len(hits):
            body = {"query": query, "_source": ["name", "embedding"]}
            hits = self._call("a scan", lambda: list(scan(self._es, index=self.index, query=body, size=500)))
        found: dict[str, list[list[float]]] = {}
        for hit in hits:
            found.setdefault(hit["_source"]["name"], []).append(hit["_source"]["embedding"])
        return {name: np.asarray(rows, dtype=np.float32).reshape(-1, self.dim) for name, rows in found.items()}

    def _terms(self, field: str) -> dict[str, int]:
        response = self._call(
            f"a {field} aggregation",
            self._es.search,
            index=self.index,
            size=0,
            aggs={"values": {"terms": {"field": field, "size": 65_536}}},
        )
        return {b["key"]: b["doc_count"] for b in response["aggregations"]["values"]["buckets"]}

    def people(self) -> dict[str, int]:
        # every recognition reads the gallery's size and the named person's face count: a terms aggregation per
        # request would dominate, so answers are reused for a moment (and dropped at this process's own writes)
        cached = self._people_cache
        if cached is not None and time.monotonic() - cached[0] < PEOPLE_CACHE_S:
            return cached[1]
        people = dict(sorted(self._terms("name").items()))
        self._people_cache = (time.monotonic(), people)
        return people

    def model_versions(self) -> dict[str, int]:
        return self._terms("model_version")

    def delete_faces(self, face_ids: list[str]) -> int:
        from elasticsearch.helpers import BulkIndexError, bulk

        if not face_ids:
            return 0
        self._people_cache = None
        actions = [{"_op_type": "delete", "_index": self.index, "_id": face_id} for face_id in face_ids]
        try:
            deleted, _ = self._call("a bulk delete", bulk, self._es, actions, refresh="wait_for")
        except BulkIndexError as exc:  # ids that do not exist come back as 404 items: not an error here
            failures = [e for e in exc.errors if e.get("delete", {}).get("status") != 404]
            if failures:
                raise IndexBackendError(f"Elasticsearch refused {len(failures)} deletes: {failures[:1]}") from exc
            deleted = len(face_ids) - len(exc.errors)
        return int(deleted)

    def face_ids(self, name: str) -> list[str]:
        from elasticsearch.helpers import scan

        query = {"query": {"term": {"name": name}}, "_source": ["face_id"]}
        hits = self._call("a scan", lambda: list(scan(self._es, index=self.index, query=query)))
        return [hit["_source"]["face_id"] for hit in hits]

    def count(self) -> int:
        return int(self._call("a count", self._es.count, index=self.index)["count"])

    def records(self) -> Iterator[FaceRecord]:
        from elasticsearch.helpers import scan

        hits = scan(self._es, index=self.index, query={"query": {"match_all": {}}}, size=500)
        for hit in self._call_iter("a scan", hits):
            src = hit["_source"]
            yield FaceRecord(
                name=src["name"],
                vector=np.asarray(src["embedding"], dtype=np.float32),
                model_version=src["model_version"],
                face_id=src["face_id"],
                created_at=src["created_at"],
                crop_jpeg=base64.b64decode(src["crop_jpeg"]) if src.get("crop_jpeg") else None,
            )

    def update_vectors(self, updates: list[tuple[str, np.ndarray, str]]) -> None:
        from elasticsearch.helpers import bulk

        actions = [
            {
                "_op_type": "update",
                "_index": self.index,
                "_id": face_id,
                "doc": {"embedding": np.asarray(v, dtype=np.float32).tolist(), "model_version": version},
            }
            for face_id, v, version in updates
        ]
        self._call("a bulk update", bulk, self._es, actions, refresh="wait_for")

    def ping(self) -> bool:
        try:  # one quick try: readiness must answer fast, not after the client's retries
            return bool(self._es is not None and self._es.options(request_timeout=2, max_retries=0).ping())
        except Exception:
            return False

    def close(self) -> None:
        if self._es is not None:
            self._es.close()
