"""What scoring people by the centroid of their faces costs a recognition on the embedded index.

    python bench/person_scores_benchmark.py [--people 20000 200000] [--photos 5] [--queries 300]

A recognition searches the index for its face's nearest faces (SEARCH_FACES of them), groups them into people and,
when the bundle scores people by their centroid, asks the index for every face of those people
(``FaceIndex.person_vectors``): one more SQLite read by name. Here an embedded index on disk holds each of
``--people`` people with ``--photos`` faces each (random unit vectors: every one of a query's nearest faces is
another person's, the most people such a read can be asked for), and each query times the search alone and the
read after it, as ``Recognizer.identify`` makes them.
Elasticsearch is not measured: noida-db emulates its API for functional tests only. Writes
bench/results/person_scores_benchmark.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.index import FaceRecord  # noqa: E402
from facerec.index.embedded import EmbeddedIndex  # noqa: E402
from facerec.serve.recognizer import SEARCH_FACES  # noqa: E402

MODEL = "bench-model"


def unit_rows(rng: np.random.RandomState, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def measure(people: int, photos: int, dim: int, queries: int) -> dict:
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as folder:
        index = EmbeddedIndex(Path(folder) / "faces.sqlite3", dim=dim, model_version=MODEL)
        index.connect()
        started = time.perf_counter()
        for first in range(0, people, 2_000):  # one transaction per 2,000 people
            chunk = range(first, min(first + 2_000, people))
            vectors = unit_rows(rng, len(chunk) * photos, dim)
            names = [f"person {p:07d}" for p in chunk for _ in range(photos)]
            index.add([FaceRecord(n, v, MODEL) for n, v in zip(names, vectors, strict=True)])
        fill_s = time.perf_counter() - started
        index.close()  # reopened as the service starts: FAISS built from the table (IVF past 200,000 faces)
        index.connect()
        search_ms, read_ms, candidates = [], [], []
        for query in unit_rows(rng, queries, dim):
            t0 = time.perf_counter()
            (matches,) = index.search(query[None], SEARCH_FACES, MODEL)
            t1 = time.perf_counter()
            found = index.person_vectors(sorted({m.name for m in matches}), MODEL)
            t2 = time.perf_counter()
            search_ms.append((t1 - t0) * 1000)
            read_ms.append((t2 - t1) * 1000)
            candidates.append(len(found))
        index.close()
    return {
        "faces": people * photos,
        "people": people,
        "photos_per_person": photos,
        "fill_seconds": round(fill_s, 1),
        "candidate_people_mean": float(np.mean(candidates)),
        "search": percentiles(search_ms),
        "person_vectors": percentiles(read_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--photos", type=int, default=5, help="faces per person")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "person_scores_benchmark.json"))
    args = parser.parse_args()

    rows = [measure(people, args.photos, args.dim, args.queries) for people in args.people]
    report = {**environment(), "dim": args.dim, "search_faces": SEARCH_FACES, "queries": args.queries, "rows": rows}
    path = write_report(report, args.out)
    for row in rows:
        print(
            f"{row['faces']:,} faces of {row['people']:,} people: search p50 {row['search']['p50_ms']:.2f} ms, "
            f"every face of its {row['candidate_people_mean']:.0f} people p50 {row['person_vectors']['p50_ms']:.2f} "
            f"ms (p99 {row['person_vectors']['p99_ms']:.2f})"
        )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
