"""Embedded-index search benchmark: single-query latency and recall@1 against exact search at 100k and 1M faces.

    python bench/index_benchmark.py [--model MODEL_URI] [--sizes 100000 1000000] [--queries 300]

Stored vectors are synthetic around real embeddings: each is a real LFW face embedding plus Gaussian noise,
renormalised (so the distribution has real structure: clusters per person, realistic cosine spread). Queries are other
noisy copies of the same real faces. Writes bench/results/index_benchmark.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.index.embedded import build_faiss_index  # noqa: E402


def real_embeddings(model_uri: str | None, n: int) -> np.ndarray:
    """Embeddings of ``n`` LFW images with the given bundle (or the untrained encoder when none)."""
    import torch

    from facerec.model.bundle import load_bundle
    from facerec.model.encoder import FaceEncoder
    from facerec.train.data import scan_people
    from facerec.train.evaluation import embed_paths

    torch.set_num_threads(os.cpu_count() or 1)
    people = scan_people(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    paths = sorted(p for ps in people.values() for p in ps)[:: max(1, 13_233 // n)][:n]
    if model_uri:
        bundle = load_bundle(model_uri)
        encoder, preprocess = bundle.encoder, bundle.preprocess
    else:
        encoder = FaceEncoder()
        preprocess = encoder.default_preprocess()
    embeddings = embed_paths(encoder, preprocess, paths, flip_tta=False)
    return np.stack([embeddings[p] for p in paths]).astype(np.float32)


def noisy_copies(base: np.ndarray, n: int, noise: float, rng: np.random.RandomState) -> np.ndarray:
    out = base[rng.randint(len(base), size=n)] + rng.normal(0, noise, size=(n, base.shape[1])).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="bundle URI for the real embeddings (default: untrained encoder)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--base", type=int, default=2000, help="real embeddings the synthetic ones are drawn around")
    parser.add_argument("--noise", type=float, default=0.04, help="per-dimension noise (0.04 x sqrt(300) ~ 0.7)")
    parser.add_argument("--ivf-min-vectors", type=int, default=200_000)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "index_benchmark.json"))
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    base = real_embeddings(args.model, args.base)
    dim = base.shape[1]
    rows = []
    for size in args.sizes:
        rss_before = rss_mb()
        vectors = noisy_copies(base, size, args.noise, rng)
        queries = noisy_copies(base, args.queries, args.noise, rng)
        ids = np.arange(size, dtype=np.int64)
        exact = faiss.IndexFlatIP(dim)
        exact.add(vectors)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        _, truth = exact.search(queries, 1)
        started = time.perf_counter()
        index = build_faiss_index(vectors, dim, args.ivf_min_vectors, args.nprobe[0])
        index.add_with_ids(vectors, ids)
        build_s = time.perf_counter() - started
        del exact
        settings = args.nprobe if hasattr(index, "nprobe") else [None]
        for nprobe in settings:
            if nprobe is not None:
                index.nprobe = nprobe
            faiss.omp_set_num_threads(1)  # what EmbeddedIndex does for single queries
            latencies, hits = [], 0
            for i, query in enumerate(queries):
                t0 = time.perf_counter()
                _, found = index.search(query[None, :], 1)
                latencies.append((time.perf_counter() - t0) * 1000)
                hits += int(found[0, 0] == truth[i, 0])
            rows.append(
                {
                    "faces": size,
                    "index": "IVF-Flat" if nprobe is not None else "exact (flat)",
                    "nprobe": nprobe,
                    "p50_ms": float(np.percentile(latencies, 50)),
                    "p99_ms": float(np.percentile(latencies, 99)),
                    "recall_at_1": hits / len(queries),
                    "build_s": build_s,
                    "vectors_mb": vectors.nbytes / 2**20,
                    "process_rss_growth_mb": rss_mb() - rss_before,
                }
            )
        del index, vectors

    report = {
        **environment(),
        "model": args.model or "untrained encoder (ImageNet Lite0 + random projection)",
        "dim": dim,
        "noise": args.noise,
        "rows": rows,
    }
    out = write_report(report, args.out)
    print(f"{report['machine']}  {report['date']}  dim {dim}\n")
    print(
        "| faces | index | nprobe | p50 ms | p99 ms | recall@1 | build s | vectors MB |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['faces']:,} | {r['index']} | {r['nprobe'] or '-'} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['recall_at_1']:.3f} | {r['build_s']:.1f} | {r['vectors_mb']:.0f} |"
        )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
