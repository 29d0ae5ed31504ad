"""Tables of the demo model: `make demo` runs, its recipe candidates, its sample answers."""

from __future__ import annotations

import statistics

from bench.tables.common import load, pct, source, table_head

# further runs of the 2026-12-03 demo recipe, the same day as demo_benchmark.json
DEMO_RERUNS = tuple(f"demo_benchmark_rerun{n}.json" for n in ("", "2", "3", "4"))

# today's demo recipe (DEMO_FLOW_ARGS: dev measured once, at the end), five runs one after another on 2026-12-04;
# the first three ran as a candidate (its arguments + --evals_per_epoch 0), the last two as `make demo` does
DEMO_RECIPE_SUFFIXES = ("", "2", "3", "4", "5")

DEMO_RECIPE_RUNS = tuple(f"demo_final_eval{n}.json" for n in DEMO_RECIPE_SUFFIXES)

# candidates run after the demo recipe's four runs, on the same VM the same evening (docs/experiments.md)
DEMO_CANDIDATES_2026_12_03 = (
    "demo_candidate_lr2e-3.json", "demo_candidate_cosface1.json", "demo_candidate_aug_none.json",
    "demo_candidate_aug_low.json", "demo_candidate_aug_low_rerun.json", "demo_candidate_aug_low_rerun2.json",
)  # fmt: skip

# the weight average on the demo recipe, three runs one after another on 2026-12-04 (docs/experiments.md)
DEMO_CANDIDATES_2026_12_04 = (
    "demo_candidate_ema.json", "demo_candidate_ema_rerun_b.json", "demo_candidate_ema_rerun_c.json",
)  # fmt: skip

# flow defaults that changed after the first demo run: what an argument it did not pass was set to on that day
FIRST_DEMO_DEFAULTS = {"--ema_decay": "0"}  # TrainConfig.ema_decay became 0.999 on 2026-12-04

# demo models whose test input was swept (bench/test_time_resolution.py --out test_time_resolution_demo_<run>.json)
DEMO_TEST_TIME_RUNS = (
    "1796330234134231", "1796330754093580", "1796333939375124", "1796334386391963", "1796338477882553",
)  # fmt: skip

# the same demo runs' sample answers given again by today's serving code (bench/demo_benchmark.py --samples-only),
# after the detected faces' alignment changed (2026-12-04); the training figures stay the runs' own
DEMO_SAMPLE_ANSWERS = tuple(f"demo_samples{n}.json" for n in DEMO_RECIPE_SUFFIXES)


def demo_results() -> str:
    bench = load(DEMO_RECIPE_RUNS[0])
    samples = [load(name) for name in DEMO_SAMPLE_ANSWERS]
    if [s["run"] for s in samples] != [load(name)["run"] for name in DEMO_RECIPE_RUNS]:
        raise ValueError("the sample answers are not those of the demo runs they stand for")
    answers = samples[0]["samples"]["answers"]
    rows = ["| photo | expected | answer | P |", "|---|---|---|---|"]
    for a in answers:
        mark = "" if a["right"] else " (missed)" if a["answer"] == "unknown" else " (wrong)"
        rows.append(f"| `{a['photo']}` | {a['expected']} | {a['answer']}{mark} | {a['probability']:.2f} |")
    # the demo trains for a fixed time, so its model is as good as the machine is fast: say how fast it was; and one
    # run of a time-budgeted recipe is one draw, so all runs of it say where the next one may land
    note = (
        f"; answers of run {bench['run'].split('/')[-1]} ({bench['date']}, "
        f"{bench['train']['images_per_second']:.0f} images/s)"
    )
    runs = [load(name) for name in DEMO_RECIPE_RUNS]
    aucs = [run["test"]["roc_auc"] for run in runs]
    minutes = [run["wall_time_s"] / 60 for run in runs]
    right = [sum(a["right"] for a in sample["samples"]["answers"]) for sample in samples]
    before = [sum(a["right"] for a in run["samples"]["answers"]) for run in runs]
    note += (
        f"; {len(runs)} runs of this recipe on one VM: {min(minutes):.1f}-{max(minutes):.1f} min, test ROC AUC "
        f"{statistics.mean(aucs):.4f} ± {statistics.stdev(aucs):.4f} ({min(aucs):.4f}-{max(aucs):.4f}), "
        f"{min(right)}-{max(right)} of {len(answers)} right ({min(before)}-{max(before)} before the landmark alignment)"
    )
    # the runs as one shell pattern: the README has a size limit, and five file names are most of a line
    suffixes = ",".join(DEMO_RECIPE_SUFFIXES)
    return "\n".join(rows) + "\n" + source(f"demo_final_eval{{{suffixes}}}.json", f"demo_samples{{{suffixes}}}.json",
                                            extra=note)  # fmt: skip


def flow_default(argument: str) -> str:
    """The training flow's default for a training argument such as ``--select_on``, as the command line spells it."""
    from facerec.train.config import TrainConfig  # torch and timm come with it: only the tables that need it pay

    return str(getattr(TrainConfig(), argument.removeprefix("--"), None))


def demo_recipes(*names: str) -> str:
    """Whole demo runs (`bench/demo_benchmark.py`) of several demo recipes: what `make demo` costs and gets.

    The demo trains for a fixed time, so a recipe is judged on the same machine on the same day; it is chosen on dev
    AUC among those that finish within 8 minutes, and the test columns are what each run then reported."""
    header = ["run", "date", "arguments beyond the 2026-11-29 demo", "steps (images/s)",
              "minutes: train / evaluate / all", "dev AUC", "dev named right at FPIR 5%", "test AUC",
              "test verification", "sample photos right"]  # fmt: skip
    rows = table_head(header)
    first = load(names[0])["flow_args"]
    base = dict(zip(first[::2], first[1::2], strict=True))
    for name in names:
        bench = load(name)
        args = bench["flow_args"]
        pairs = dict(zip(args[::2], args[1::2], strict=True))
        # an argument the first demo did not pass had the flow's default of that day there
        was = {k: base.get(k, FIRST_DEMO_DEFAULTS.get(k) or flow_default(k)) for k in pairs}
        extra = " ".join(f"`{k} {v}`" for k, v in pairs.items() if was[k] != v) or "none"
        steps = bench.get("step_seconds")
        minutes = (
            f"{steps['train'] / 60:.1f} / {steps['evaluate'] / 60:.1f} / " if steps else "- / - / "
        ) + f"{bench['wall_time_s'] / 60:.1f}"
        train, test, answers = bench["train"], bench["test"], bench["samples"]["answers"]
        # selected on AUC + the detection rate, the selection score holds the rate (selection_score in training.py)
        selected_on = pairs.get("--select_on", base.get("--select_on", flow_default("--select_on")))
        rate = pct(train["best_selection_score"] - train["best_dev_auc"]) if selected_on == "auc+dir" else "-"
        rows.append(
            f"| {bench['run'].split('/')[-1]} | {bench['date']} | {extra} | "
            f"{train['steps']:,} ({train['images_per_second']:.0f}) | {minutes} | {train['best_dev_auc']:.4f} | "
            f"{rate} | {test['roc_auc']:.4f} | {pct(test['verification_accuracy'])} | "
            f"{sum(a['right'] for a in answers)} of {len(answers)} |"
        )
    return "\n".join(rows) + "\n" + source(*names)
