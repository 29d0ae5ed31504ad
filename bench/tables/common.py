"""What every table shares: where the JSON lives, how numbers are written, the source line under a table."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"

# the default model of 2026-12-04 (run 1796368124883582) as its flow fitted it: the tables that study its calibrator
# stay on it; the README's open-set table follows open_set_benchmark.json, today's default model (since 2026-12-05 the
# first run of the same-day set served at 192 + 224 px; open_set_benchmark_<run>.json: the three runs at 192 px)
OPEN_SET_2026_12_04 = "open_set_benchmark_2026-12-04.json"
# the open-set benchmarks' two paths, as the tables name them
PATHS = {"detected": "photos, with detection", "crops": "the given crops"}


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def ece(report: dict) -> str:
    """The ECE and, where the benchmark resampled people, its 95% interval over people."""
    interval = report.get("ece_interval")
    spread = f" ({interval['low']:.3f}-{interval['high']:.3f})" if interval else ""
    return f"{report['ece_15_bins']:.3f}{spread}"


def table_head(header: list[str]) -> list[str]:
    """A markdown table's first two lines: the column names and the separator."""
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]


def galleries(results: dict) -> list[str]:
    """The gallery shapes ("1_photos", "2_photos", ...) of one path's results in `bench/open_set_benchmark.py`'s
    JSON, in order; the path's other entries (photos without a face, ...) are not galleries."""
    return [key for key in results if key.endswith("_photos")]


def side_by_side(benches: dict[str, dict]) -> Iterator[tuple[str, str, dict]]:
    """``(gallery, label, open-set answer through detection)`` for each gallery shape, each labelled benchmark in
    turn, so that the rows of one gallery stand together in a table."""
    first = next(iter(benches.values()))
    for gallery in galleries(first["results"]["detected"]):
        for label, bench in benches.items():
            yield gallery, label, bench["results"]["detected"][gallery]["open_set"]


def source(*names: str, extra: str = "") -> str:
    files = ", ".join(f"`bench/results/{n}`" for n in names)
    return f"\n_Source: {files}{extra}._\n"


def mean_sd(values: list[float], fmt: Callable[[float], str], bold: bool = False) -> str:
    """Mean ± sd (the mean alone for one value); ``bold`` marks the mean."""
    mean = fmt(statistics.mean(values))
    mean = f"**{mean}**" if bold else mean
    return f"{mean} ± {fmt(statistics.stdev(values))}" if len(values) > 1 else mean


def paired_difference(diffs: list[float], in_points: bool) -> str:
    """Mean ± sd of per-run differences: in points for shares, to four decimals for AUCs and ECEs."""
    scale, places = (100, 1) if in_points else (1, 4)
    return f"{scale * statistics.mean(diffs):+.{places}f} ± {scale * statistics.stdev(diffs):.{places}f}"
