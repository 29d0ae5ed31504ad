"""The embedded index: SQLite (WAL) is the source of truth; FAISS holds the vectors in memory for search.

Every write commits to SQLite before FAISS changes, so a crash loses nothing that was acknowledged; at start-up the
FAISS index is built from the table. Only vectors of the serving model version are searchable.

Several processes may share one file (two API workers, an API and ``python -m facerec.serve.reindex``). Each write
transaction bumps a generation counter in the same file (and a removal counter when it deletes or changes vectors);
before answering, a process asks SQLite whether another connection committed since it last looked (``PRAGMA
data_version``: no disk read) and then catches up: new rows only when nothing was removed or changed, a rebuild
otherwise. So an external reindex or another process's enrolments are seen at the next request.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import faiss
import numpy as np

from .base import FaceIndex, FaceRecord, IndexUnavailable, Match

_FAISS_THREADS = faiss.omp_get_max_threads()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    face_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    vector BLOB NOT NULL,
    model_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    crop_jpeg BLOB
);
CREATE INDEX IF NOT EXISTS faces_name ON faces (name);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', 0), ('removals', 0);
"""
_PAGE = 512  # rows per read while streaming records or catching up
_SQL_VARIABLES = 500  # ids per IN (...) clause


def build_faiss_index(vectors: np.ndarray, dim: int, ivf_min_vectors: int, nprobe: int) -> faiss.Index:
    """Exact inner-product search up to ``ivf_min_vectors``; above, an inverted-file index (k-means cells, ``nprobe``
    of them searched per query) trained on the stored vectors: 1M exact searches cost ~60 ms per query on one core."""
    if len(vectors) < ivf_min_vectors:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    nlist = int(4 * np.sqrt(len(vectors)))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.RandomState(0).choice(len(vectors), min(len(vectors), nlist * 64), replace=False)]
    ivf.train(sample)
    ivf.nprobe = nprobe
    return ivf


class EmbeddedIndex(FaceIndex):
    def __init__(
        self, path: str | Path, dim: int, model_version: str, ivf_min_vectors: int = 200_000, nprobe: int = 32
    ):
        self.path = Path(path)
        self.dim = dim
        self.model_version = model_version
        self.ivf_min_vectors = ivf_min_vectors
        self.nprobe = nprobe
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._faiss: faiss.Index | None = None
        self._meta: dict[int, tuple[str, str]] = {}  # faiss id (row id) -> (face_id, name)
        # faces per model version and per person, kept in memory: the service reads both for every recognition
        self._versions: Counter[str] = Counter()
        self._people: Counter[str] = Counter()
        self._people_view: dict[str, int] | None = None  # sorted copy of _people; None after any change
        self._data_version = -1
        self._seen = (0, 0)  # (generation, removals) this process's FAISS reflects
        self._max_row = 0  # highest row id loaded

    def connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: an acknowledged enrolment survives a power cut too, not only a process crash
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise IndexUnavailable(f"cannot open the embedded index at {self.path}: {exc}") from exc
        self._db = db
        with self._lock:
            self._rebuild()

    # --- keeping FAISS in step with the file ---------------------------------------------------------------------

    def _counters(self) -> tuple[int, int]:
        values = dict(self._db.execute("SELECT key, value FROM meta"))
        return int(values["generation"]), int(values["removals"])

    def _rebuild(self) -> None:
        """FAISS, the id map and the version counts from the table (caller holds the lock)."""
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        self._seen = self._counters()
        ids_parts, vector_parts = [], []
        meta: dict[int, tuple[str, str]] = {}
        rows = self._db.execute(
            "SELECT id, face_id, name, vector FROM faces WHERE model_version = ? ORDER BY id", (self.model_version,)
        )
        while batch := rows.fetchmany(50_000):
            ids_parts.append(np.array([r[0] for r in batch], dtype=np.int64))
            vector_parts.append(np.frombuffer(b"".join(r[3] for r in batch), dtype=np.float32).reshape(-1, self.dim))
            meta.update({r[0]: (r[1], r[2]) for r in batch})
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
        vectors = np.concatenate(vector_parts) if vector_parts else np.zeros((0, self.dim), dtype=np.float32)
        index = build_faiss_index(vectors, self.dim, self.ivf_min_vectors, self.nprobe)
        if len(ids):
            index.add_with_ids(vectors, ids)
        self._faiss, self._meta = index, meta
        self._versions = Counter(dict(self._db.execute("SELECT model_version, COUNT(*) FROM faces GROUP BY 1")))
        self._people = Counter(dict(self._db.execute("SELECT name, COUNT(*) FROM faces GROUP BY 1")))
        self._people_view = None
        self._max_row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM faces").fetchone()[0]

    def _catch_up(self) -> None:
        """See what other processes committed since this one last looked (caller holds the lock)."""
        data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if data_version == self._data_version:
            return
        self._data_version = data_version
        generation, removals = self._counters()
        if (generation, removals) == self._seen:
            return
        if removals != self._seen[1]:
            self._rebuild()
            return
        rows = self._db.execute(
            "SELECT id, face_id, name, vector, model_version FROM faces WHERE id > ? ORDER BY id", (self._max_row,)
        ).fetchall()
        self._index_rows([(r[0], r[1], r[2], np.frombuffer(r[3], dtype=np.float32), r[4]) for r in rows])
        self._people.update(r[2] for r in rows)
        self._people_view = None
        self._seen = (generation, removals)

    def _index_rows(self, rows: list[tuple[int, str, str, np.ndarray, str]]) -> None:
        """Add stored rows (id, face_id, name, vector, version) to the in-memory state (caller holds the lock)."""
        if not rows:
            return
        self._versions.update(r[4] for r in rows)
        self._max_row = max(self._max_row, max(r[0] for r in rows))
        searchable = [r for r in rows if r[4] == self.model_version]
        if searchable:
            self._faiss.add_with_ids(
                self._as_rows(np.stack([r[3] for r in searchable])), np.array([r[0] for r in searchable], np.int64)
            )
            self._meta.update({r[0]: (r[1], r[2]) for r in searchable})

    def _write(self, statements, removes: bool = False):
        """Run ``statements(db)`` in one write transaction that also bumps the counters; returns its result.

        Other processes' commits are taken in first, inside the transaction (which holds SQLite's write lock), so
        that no foreign change can slip between catching up and our own commit unseen.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._catch_up()
            result = statements(self._db)
            self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            if removes:
                self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'removals'")
            counters = self._counters()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._seen = counters
        return result

    def _as_rows(self, vectors: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)

    # --- the FaceIndex interface ---------------------------------------------------------------------------------

    def add(self, records: list[FaceRecord]) -> None:
        if not records:
            return

        def insert(db: sqlite3.Connection) -> list[int]:
            return [
                db.execute(
                    "INSERT INTO faces (face_id, name, vector, model_version, created_at, crop_jpeg) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (r.face_id, r.name, self._as_rows(r.vector).tobytes(), r.model_version, r.created_at, r.crop_jpeg),
                ).lastrowid
                for r in records
            ]

        with self._lock:
            ids = self._write(insert)
            rows = zip(ids, records, strict=True)
            self._index_rows([(i, r.face_id, r.name, np.asarray(r.vector), r.model_version) for i, r in rows])
            self._people.update(r.name for r in records)
            self._people_view = None

    def search(self, vectors: np.ndarray, k: int, model_version: str) -> list[list[Match]]:
        if model_version != self.model_version:
            raise ValueError(f"this index serves model {self.model_version}, not {model_version}")
        queries = self._as_rows(vectors)
        with self._lock:
            self._catch_up()
            if self._faiss.ntotal == 0:
                return [[] for _ in range(len(queries))]
            # single queries are latency-bound: one thread avoids OpenMP start-up costs (32 ms -> 3 ms at 100k).
            # The OpenMP setting is per OS thread and shared with torch's runtime: restore it, or the encoder
            # running next on this thread is left with one thread.
            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1 if len(queries) == 1 else _FAISS_THREADS)
            try:
                similarities, ids = self._faiss.search(queries, min(k, self._faiss.ntotal))
            finally:
                faiss.omp_set_num_threads(previous)
            return [
                [
                    Match(self._meta[i][0], self._meta[i][1], float(s))
                    for s, i in zip(row_s, row_i, strict=True)
                    if i != -1
                ]
                for row_s, row_i in zip(similarities, ids, strict=True)
            ]

    def person_vectors(self, names: Sequence[str], model_version: str) -> dict[str, np.ndarray]:
        found: dict[str, list[bytes]] = {}
        names = sorted(set(names))
        with self._lock:
            # the name index answers this: a few dozen people's rows, not a scan
            for start in range(0, len(names), 500):  # SQLite caps the parameters of one statement
                chunk = names[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT name, vector FROM faces WHERE model_version = ? AND name IN ({marks}) ORDER BY id",
                    (model_version, *chunk),
                )
                for name, vector in rows:
                    found.setdefault(name, []).append(vector)
        return {
            name: np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, self.dim)
            for name, blobs in found.items()
        }

    def people(self) -> dict[str, int]:
        with self._lock:
            self._catch_up()
            # every recognition reads it: sorted once per change, not per request
            if self._people_view is None:
                self._people_view = dict(sorted(self._people.items()))
            return self._people_view

    def delete_faces(self, face_ids: list[str]) -> int:
        if not face_ids:
            return 0

        def delete(db: sqlite3.Connection) -> list[tuple[int, str, str]]:
            found = []
            for start in range(0, len(face_ids), _SQL_VARIABLES):
                chunk = face_ids[start : start + _SQL_VARIABLES]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT id, model_version, name FROM faces WHERE face_id IN ({marks})"
                found += db.execute(query, chunk).fetchall()
                db.execute(f"DELETE FROM faces WHERE face_id IN ({marks})", chunk)
            return found

        with self._lock:
            removed = self._write(delete, removes=True)
            if removed:
                self._versions.subtract(version for _, version, _ in removed)
                self._versions = +self._versions  # drop versions with no faces left
                self._people.subtract(name for _, _, name in removed)
                self._people = +self._people
                self._people_view = None
                ids = [row for row, _, _ in removed]
                self._faiss.remove_ids(np.array(ids, dtype=np.int64))
                for i in ids:
                    self._meta.pop(i, None)
            return len(removed)

    def face_ids(self, name: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT face_id FROM faces WHERE name = ? ORDER BY id", (name,))]

    def model_versions(self) -> dict[str, int]:
        with self._lock:
            self._catch_up()
            return dict(self._versions)

    def records(self) -> Iterator[FaceRecord]:
        """Every face, read a page at a time (the crops of a large index do not fit in memory at once)."""
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT id, face_id, name, vector, model_version, created_at, crop_jpeg FROM faces "
                    "WHERE id > ? ORDER BY id LIMIT ?",
                    (last, _PAGE),
                ).fetchall()
            if not rows:
                return
            for _row, face_id, name, vector, version, created_at, crop in rows:
                yield FaceRecord(name, np.frombuffer(vector, dtype=np.float32), version, face_id, created_at, crop)
            last = rows[-1][0]

    def update_vectors(self, updates: list[tuple[str, np.ndarray, str]]) -> None:
        """Replace vectors in place; FAISS follows row by row (no rebuild per batch: a reindex stays linear)."""
        if not updates:
            return

        def update(db: sqlite3.Connection) -> list[tuple[int, str, str, str]]:
            changed = []
            for face_id, vector, version in updates:
                row = db.execute("SELECT id, name, model_version FROM faces WHERE face_id = ?", (face_id,)).fetchone()
                if row is None:
                    continue
                db.execute(
                    "UPDATE faces SET vector = ?, model_version = ? WHERE id = ?",
                    (self._as_rows(vector).tobytes(), version, row[0]),
                )
                changed.append((row[0], face_id, row[1], row[2]))
            return changed

        with self._lock:
            changed = self._write(update, removes=True)
            if not changed:
                return
            self._faiss.remove_ids(np.array([row for row, *_ in changed], dtype=np.int64))
            for row, _, _, old_version in changed:
                self._meta.pop(row, None)
                self._versions[old_version] -= 1
            self._versions = +self._versions
            new = {face_id: (np.asarray(vector), version) for face_id, vector, version in updates}
            self._index_rows([(row, face_id, name, *new[face_id]) for row, face_id, name, _ in changed])

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except (sqlite3.Error, AttributeError):
            return False

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
