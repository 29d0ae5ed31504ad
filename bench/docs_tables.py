"""Every table of measured numbers in the README and docs/ is rendered from the JSON its benchmark wrote.

    python bench/docs_tables.py            # rewrite the tables in README.md and docs/*.md from bench/results/
    python bench/docs_tables.py --check    # exit 1 if any table differs from its JSON (the test suite runs this)

A table sits between ``<!-- table:NAME -->`` and ``<!-- /table -->``; NAME picks the renderer below, which names the
JSON it reads (the renderers live in `bench/tables/`, one module per topic). Prose around the tables quotes no number
that is not in one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables.demo import (  # noqa: E402
    DEMO_CANDIDATES_2026_12_03,
    DEMO_CANDIDATES_2026_12_04,
    DEMO_RECIPE_RUNS,
    DEMO_RERUNS,
    DEMO_TEST_TIME_RUNS,
    demo_recipes,
    demo_results,
)
from bench.tables.encoder import (  # noqa: E402
    TEST_INPUT_RUNS,
    ablation,
    default_set_runs,
    default_sets,
    full_runs,
    identities,
    known_unknown_split,
    paired_by_seed,
    schedule_length,
    test_input,
    test_input_open_set,
    test_input_search,
    test_time_resolution,
    test_time_resolution_paired,
    train_device,
    train_results,
)
from bench.tables.open_set import (  # noqa: E402
    calibration_diagnosis,
    calibration_domain,
    cohort_norm,
    gallery_scale,
    gallery_z_test,
    open_set_aggregate,
    open_set_error_split,
    open_set_fit,
    open_set_map,
    open_set_results,
    open_set_seeds,
    open_set_told_share,
    open_set_views,
    served_rule,
    stranger_mix,
)
from bench.tables.service import (  # noqa: E402
    API_RUNS,
    API_RUNS_TEST_INPUT,
    alignment,
    alignment_test,
    api_benchmark,
    index_benchmark,
    person_scores_cost,
    reliability_results,
)

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)

RENDERERS: dict[str, Callable[[], str]] = {
    "train-results": train_results,
    "open-set-results": open_set_results,
    "demo-results": demo_results,
    "demo-recipes": lambda: demo_recipes(
        "demo_benchmark_2026-11-29.json",
        "demo_benchmark_2026-12-03.json",
        "demo_candidate_frozen2_torch_eval.json",
        "demo_candidate_frozen3_torch_eval.json",
        "demo_candidate_frozen2.json",
        "demo_benchmark.json",
        *DEMO_RERUNS,
        *DEMO_CANDIDATES_2026_12_03,
        *DEMO_CANDIDATES_2026_12_04,
        *DEMO_RECIPE_RUNS,
        "demo_benchmark_2026-12-05.json",
    ),
    "reliability-results": reliability_results,
    "open-set-aggregate": open_set_aggregate,
    "alignment": lambda: alignment("alignment_benchmark.json"),
    "alignment-demo": lambda: alignment("alignment_benchmark_demo.json"),
    "alignment-test": alignment_test,
    "person-scores-cost": person_scores_cost,
    "train-device": train_device,
    "schedule-length": schedule_length,
    "identities": identities,
    "ablation-losses": lambda: ablation("loss_ablation.json"),
    "ablation-centre-weight": lambda: ablation("loss_ablation_centre_weight.json"),
    "ablation-train-dev": lambda: ablation("loss_ablation_train_dev.json"),
    "ablation-memory-lookalike": lambda: ablation("loss_ablation_memory_lookalike.json"),
    "ablation-batch": lambda: ablation("loss_ablation_batch.json"),
    "test-time-resolution": lambda: test_time_resolution("test_time_resolution.json"),
    "demo-test-time-input": lambda: test_time_resolution_paired(
        *(f"test_time_resolution_demo_{run}.json" for run in DEMO_TEST_TIME_RUNS)
    ),
    "api-benchmark": lambda: api_benchmark(API_RUNS),
    "api-benchmark-test-input": lambda: api_benchmark(API_RUNS_TEST_INPUT),
    "test-input": test_input,
    "test-input-open-set": test_input_open_set,
    "test-input-search": test_input_search,
    "known-unknown-split": known_unknown_split,
    "open-set-fit": open_set_fit,
    "open-set-calibration-domain": calibration_domain,
    "calibration-diagnosis": calibration_diagnosis,
    "gallery-scale": gallery_scale,
    "open-set-error-split": open_set_error_split,
    "stranger-mix": stranger_mix,
    "open-set-told-share": open_set_told_share,
    "cohort-norm": cohort_norm,
    "served-rule": served_rule,
    "gallery-z-test": gallery_z_test,
    "open-set-map": open_set_map,
    "open-set-views": open_set_views,
    "index-benchmark": index_benchmark,
    "input-size-paired": lambda: paired_by_seed(
        "train_benchmark_2026-12-04_160.json", "train_benchmark_2026-12-04.json"
    ),
    "default-sets": default_sets,
    "open-set-seeds": lambda: open_set_seeds(
        *(f"open_set_benchmark_{run}.json" for run in TEST_INPUT_RUNS),
    ),
    "open-set-seeds-192-224": lambda: open_set_seeds(
        "open_set_benchmark.json",
        *(f"open_set_benchmark_{run}_192_224.json" for run in TEST_INPUT_RUNS[1:]),
        calibration="each run served at 192 + 224 px, its calibrators and threshold refitted on dev at that input",
    ),
    "open-set-seeds-default-set": lambda: open_set_seeds(
        *(f"open_set_benchmark_{run}.json" for run in default_set_runs()),
        calibration="each run served at 192 + 224 px with the calibrators and threshold its flow fitted",
    ),
    "full-runs": lambda: full_runs(
        "train_benchmark_2026-11-29.json",
        "train_benchmark_default_2026-12-03.json",
        "train_benchmark_singles.json",
        "train_benchmark_lookalike.json",
        "train_benchmark_gallery_draws.json",
        "train_benchmark_frozen2.json",
        "train_benchmark_2026-12-04_160.json",
        "train_benchmark_input192.json",
        "train_benchmark_input192_seed2.json",
        "train_benchmark_input192_seed3.json",
        "train_benchmark_crop077.json",
        "train_benchmark_input224.json",
        "train_benchmark_centre_margin035.json",
        "train_benchmark_no_patience_seed2.json",
        "train_benchmark_centre_singles.json",
        "train_benchmark_distill2.json",
        "train_benchmark_distill2_seed2.json",
        "train_benchmark_default_2026-12-05.json",
        "train_benchmark_default_2026-12-05_seed2.json",
        "train_benchmark_default_2026-12-05_seed3.json",
        "train_benchmark_default_2026-12-05_192_224.json",
        "train_benchmark_default_2026-12-05_seeds5-7.json",
    ),
}


def render(text: str) -> str:
    def replace(match: re.Match) -> str:
        renderer = RENDERERS.get(match["name"])
        if renderer is None:
            raise KeyError(f"no renderer for table {match['name']!r}")
        return match[1] + renderer() + match[4]

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report tables that differ from their JSON")
    args = parser.parse_args()
    stale = []
    for document in DOCUMENTS:
        text = document.read_text()
        rendered = render(text)
        if rendered != text:
            stale.append(document.relative_to(ROOT))
            if not args.check:
                document.write_text(rendered)
    if args.check and stale:
        print(f"tables differ from bench/results/ in: {', '.join(map(str, stale))}; run python bench/docs_tables.py")
        return 1
    print("rewrote: " + ", ".join(map(str, stale)) if stale else "every table matches its JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
