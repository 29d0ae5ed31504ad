"""Which test input to serve a trained encoder at, chosen on dev people only.

    python bench/test_input_search.py --model FacialRecognitionTrainFlow/<run> \
        --arms 192 224 240 256 192,224 192,256 --out bench/results/test_input_search_<run>.json

Each arm is a set of input sizes (at the bundle's test crop) whose flip-averaged embeddings are averaged, as
:meth:`facerec.model.runtime.EmbeddingRuntime.embed_views` serves them. Every size is embedded once through the served
runtime and the arms are combined from those embeddings; the first multi-size arm is also embedded as served and
checked against its combination, so the figures are the served path's. Per arm: dev ROC AUC and accuracy of the
pairs, rank-1, the detection rate at FPIR 5% and known-vs-unknown AUC (each dev person enrolled with their first
photo), and the pixels the encoder sees per face. No test figure: the choice rests on dev; a chosen input is then
measured on test by ``bench/test_input_benchmark.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from bench.test_input_benchmark import dev_figures  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.model.preprocess import PreprocessConfig, parse_sizes  # noqa: E402
from facerec.train.evaluation import DevProtocol, embed_paths  # noqa: E402


def served_input(base: PreprocessConfig, sizes: tuple[int, ...]) -> PreprocessConfig:
    """``base`` served at ``sizes``: the first is the main test input, the rest its extra sizes."""
    config = replace(base, test_image_size=sizes[0], test_extra_sizes=sizes[1:])
    config.validate()
    return config


def combine(per_size: dict[int, dict[str, np.ndarray]], sizes: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The normalised mean of each size's embedding, per photo (one size: its embeddings as they are)."""
    if len(sizes) == 1:
        return per_size[sizes[0]]
    combined = {}
    for path in per_size[sizes[0]]:
        mean = np.mean([per_size[size][path] for size in sizes], axis=0)
        combined[path] = mean / np.linalg.norm(mean)
    return combined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle URI (folder, s3://, FacialRecognitionTrainFlow/<id>)")
    parser.add_argument("--arms", nargs="+", type=parse_sizes, required=True, help="e.g. 224 192,224")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "test_input_search.json"))
    args = parser.parse_args()
    if any(not arm for arm in args.arms):
        parser.error("every arm needs at least one size")
    started = time.monotonic()
    bundle = load_bundle(args.model)
    people = bundle_people(bundle)
    split = bundle.split
    protocol = DevProtocol.build(people, [n for n in split.dev if len(people[n]) >= 2], split.singles_dev, split.seed)
    paths = protocol.paths
    per_size, seconds = {}, {}
    for size in sorted({size for arm in args.arms for size in arm}):
        began = time.perf_counter()
        per_size[size] = embed_paths(bundle.encoder, served_input(bundle.preprocess, (size,)), paths)
        seconds[size] = time.perf_counter() - began
        print(f"{size} px: {seconds[size]:.1f} s", flush=True)
    check = next((arm for arm in args.arms if len(arm) > 1), None)
    largest_difference = None
    if check is not None:
        served = embed_paths(bundle.encoder, served_input(bundle.preprocess, check), paths)
        combined = combine(per_size, check)
        largest_difference = max(float(np.abs(served[p] - combined[p]).max()) for p in paths)
        if largest_difference > 1e-4:
            raise SystemExit(f"combined embeddings differ from the served ones by {largest_difference}")
    arms = {}
    for sizes in args.arms:
        name = "+".join(map(str, sizes))
        arms[name] = {
            "sizes": list(sizes),
            "pixels": sum(size * size for size in sizes),
            "embed_seconds": sum(seconds[size] for size in sizes),
            "dev": dev_figures(protocol, combine(per_size, sizes)),
        }
        print(name, {k: round(v, 4) for k, v in arms[name]["dev"].items()}, flush=True)
    write_report(
        {
            **environment(),
            "model": args.model,
            "model_version": bundle.model_version,
            "train_input": bundle.preprocess.image_size,
            "test_crop_fraction": bundle.preprocess.eval_crop_fraction,
            "dev_people": len(protocol.galleries[0][0]),
            "dev_strangers": len(split.singles_dev),
            "dev_photos": len(paths),
            "served_check": {"arm": list(check) if check else None, "largest_difference": largest_difference},
            "arms": arms,
            "seconds": round(time.monotonic() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
