"""Tables of the encoder: training runs and seeds, ablations, test inputs (docs/experiments.md, README)."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from bench.tables.common import load, mean_sd, paired_difference, pct, source, table_head

# the latest complete same-day set of the default recipe as it is now (served at 192 + 224 px): the README's row
DEFAULT_SET = "train_benchmark.json"
# the previous same-day set (2026-12-05, seeds 1-3), trained and measured at 192 px; bench/test_input_benchmark.py
# re-measured the same weights at 192 + 224 px (TEST_INPUT_FILES)
SET_AT_192 = "train_benchmark_2026-12-05_192.json"


def train_results() -> str:
    bench, teacher = load(DEFAULT_SET), load("teacher_eval.json")
    stats, base, dlib = bench["summary"], bench.get("imagenet_lite0_baseline", {}), teacher["test"]
    n = len(bench["runs"])

    def plain(metrics: dict, key: str, fmt: Callable[[float], str]) -> str:
        return fmt(metrics[key]) if key in metrics else "-"

    three = lambda v: f"{v:.3f}"  # noqa: E731
    four = lambda v: f"{v:.4f}"  # noqa: E731
    columns = [
        ("verification_accuracy", pct2), ("roc_auc", four), ("tar_at_far_1e-3", pct), ("open_set_rank1", pct),
        ("open_set_known_vs_unknown_auc", three), ("ece_15_bins", three),
    ]  # fmt: skip
    sizes = {served_sizes(r["recipe"]["preprocess"]) for r in bench["runs"]}
    assert len(sizes) == 1, "the README's default row must be runs of one test input"
    served = " + ".join(map(str, next(iter(sizes))))
    trained = [r["test"] for r in bench["runs"]]
    rows = [
        "| encoder | verification acc | ROC AUC | TAR@FAR 1e-3 | rank-1 (1 photo) | known/unknown AUC | ECE (pairs) |",
        "|---|---|---|---|---|---|---|",
        "| ImageNet Lite0 features, no fine-tuning | " + " | ".join(plain(base, k, f) for k, f in columns) + " |",
        f"| **default** recipe, served at {served} px ({n} seeds, mean ± sd) | "
        + " | ".join(mean_sd([m[k] for m in trained], f, bold=True) for k, f in columns)
        + " |",
        "| dlib ResNet (the distillation teacher; reference) | "
        + " | ".join(plain(dlib, k, f) for k, f in columns)
        + " |",
    ]
    runs = [r["run"].split("/")[-1] for r in bench["runs"]]
    minutes = stats["wall_time_min"]
    note = f"; runs {', '.join(runs)} (seeds {', '.join(str(r['seed']) for r in bench['runs'])}), {bench['date']}"
    note += f", {bench['machine']}; wall time {minutes['mean']:.1f} ± {minutes['sd']:.1f} min per run"
    return "\n".join(rows) + "\n" + source(DEFAULT_SET, "teacher_eval.json", extra=note)


def served_sizes(preprocess: dict) -> tuple[int, ...]:
    """The test input sizes a run's recorded preprocessing serves: the main one, then the extra ones."""
    return (preprocess.get("test_image_size") or preprocess["image_size"], *preprocess.get("test_extra_sizes", ()))


def pct2(value: float) -> str:
    """Two decimals: verification means sit within a tenth of a point of issue 13's 93.5%, and one decimal would
    round some of them onto the target."""
    return f"{100 * value:.2f}%"


LATE_EVALUATIONS = 4


def late_dev_auc(run: dict) -> float:
    """The mean dev AUC of a run's last evaluations: fairer between recipes than the best step (full_runs)."""
    late = run["dev_history"][-LATE_EVALUATIONS:]
    return sum(e["dev_auc"] for e in late) / len(late)


def runs_of(name: str) -> list[dict]:
    return load(name)["runs"]


def default_set_runs() -> list[str]:
    """The run ids of the README's encoder row (:data:`DEFAULT_SET`): tables of the same models follow it."""
    return [run["run"].rsplit("/", 1)[-1] for run in runs_of(DEFAULT_SET)]


def re_measured(name: str, benches: list[dict]) -> list[dict]:
    """A set's runs with the test figures `bench/test_input_benchmark.py` measured on the same weights at the extra
    test input: training (and the late dev AUC) is the same; only the test input differs."""
    runs = runs_of(name)
    assert [r["run"].split("/")[-1] for r in runs] == [b["model"].split("/")[-1] for b in benches]
    return [run | {"test": bench["arms"]["with extra sizes"]["test"]} for run, bench in zip(runs, benches, strict=True)]


def default_sets() -> str:
    """Same-day sets of the default recipe's seeds, and each test input's runs pooled: mean ± sd of each test figure
    and of the late dev AUC, next to issue 13's targets. A set is run on one day because the recipe's time budget
    makes a run's steps depend on the machine's speed that day."""
    columns = [
        ("verification_accuracy", pct2), ("roc_auc", lambda v: f"{v:.4f}"), ("tar_at_far_1e-3", pct),
        ("open_set_rank1", pct), ("open_set_known_vs_unknown_auc", lambda v: f"{v:.3f}"),
    ]  # fmt: skip
    header = ["runs of the default recipe", "test input", "runs", "late dev AUC", "test verification", "test AUC",
              "test TAR@FAR 1e-3", "test rank-1", "test known/unknown AUC"]  # fmt: skip
    rows = table_head(header)

    def line(label: str, served: str, runs: list[dict]) -> str:
        cells = [mean_sd([late_dev_auc(r) for r in runs], lambda v: f"{v:.4f}")]
        cells += [mean_sd([r["test"][key] for r in runs], fmt) for key, fmt in columns]
        ids = ", ".join(r["run"].split("/")[-1] for r in runs)
        return f"| {label} | {served} | {ids} | " + " | ".join(cells) + " |"

    blocks = {
        "192 px": {
            "2026-12-04, seeds 1-3": runs_of("train_benchmark_2026-12-04.json"),
            "2026-12-05, seeds 1-3": runs_of(SET_AT_192),
        },
        "192 + 224 px": {
            "2026-12-05, seeds 1-3, the same weights re-measured": re_measured(SET_AT_192, test_input_benches()),
            "2026-12-05, seed 4": runs_of("train_benchmark_default_2026-12-05_192_224.json"),
            "2026-12-05, seeds 5-7 (the README's)": runs_of(DEFAULT_SET),
        },
    }
    for served, sets in blocks.items():
        pooled = [run for runs in sets.values() for run in runs]
        rows += [line(label, served, runs) for label, runs in sets.items()]
        rows.append(line(f"all {len(pooled)} pooled", served, pooled))
    rows.append("| issue 13's targets | | | | 93.50% | 0.9820 | 35.0% | 50.0% | 0.800 |")
    names = ["train_benchmark_2026-12-04.json", SET_AT_192, "test_input_benchmark_<run>.json",
             "train_benchmark_default_2026-12-05_192_224.json", DEFAULT_SET]  # fmt: skip
    test = runs_of(DEFAULT_SET)[0]["test"]
    note = f"; mean ± sd over the runs; test: {test['n_gallery']} people, {test['n_unknown_probes']} strangers"
    return "\n".join(rows) + "\n" + source(*names, extra=note)


def full_runs(*names: str) -> str:
    """Whole flow runs of several recipes side by side: dev figures at the selected step (what a recipe is chosen on),
    their mean over the run's last evaluations, and the test figures each run reported.

    The selected step is the best of a series that moves by several points between evaluations, so its figures
    flatter the run; the late mean is the fairer comparison between recipes."""
    late = f"dev AUC / named right, mean of last {LATE_EVALUATIONS} evaluations"
    header = ["run", "recipe", "date", "steps (images/s)", "dev AUC", "dev rank-1", "dev named right at FPIR 5%",
              late, "test verification", "test AUC", "test TAR@FAR 1e-3", "test rank-1",
              "test known/unknown AUC"]  # fmt: skip
    rows = table_head(header)
    for name in names:
        bench = load(name)
        for run in bench["runs"]:
            train, test = run["train"], run["test"]
            chosen = next(e for e in run["dev_history"] if e["step"] == train["best_step"])
            late = run["dev_history"][-LATE_EVALUATIONS:]
            late_auc = late_dev_auc(run)
            late_dir = sum(e["dev_dir_at_fpir_0.05"] for e in late) / len(late)
            recipe = run["recipe"]["train"]
            shape = f"{recipe['batch_size'] // recipe['images_per_person']} x {recipe['images_per_person']}"
            singles = recipe.get("singles_per_batch", 0)
            label = shape + (f" + {singles} singles" if singles else "")
            preprocess = run["recipe"]["preprocess"]
            label += f", {preprocess['image_size']} px"
            if preprocess.get("test_extra_sizes"):  # served at more sizes (since 2026-12-05)
                label += " served at " + " + ".join(
                    map(str, [preprocess["image_size"], *preprocess["test_extra_sizes"]])
                )
            if preprocess["crop_fraction"] != 0.68:  # the crop every run before 2026-12-04 trained on
                label += f" of the central {preprocess['crop_fraction']:.2f}"
            if recipe.get("centre_margin", 0.2) != 0.2:  # the margin every run before 2026-12-04 afternoon used
                label += f", centre margin {recipe['centre_margin']:g}"
            if recipe.get("distill_weight", 1.0) != 1.0:  # every run before 2026-12-05 distilled at weight 1
                label += f", distillation weight {recipe['distill_weight']:g}"
            if recipe.get("centre_singles"):
                label += ", singles as centre negatives"
            if recipe.get("lookalike_batches"):
                label += f", {recipe['lookalike_batches']:.0%} look-alike batches"
            if recipe.get("frozen_stages", -1) >= 0:
                label += f", stem + {recipe['frozen_stages']} blocks frozen"
            if recipe.get("dev_gallery_draws", 1) > 1:
                label += f", selected on {recipe['dev_gallery_draws']} dev galleries"
            if recipe.get("ema_decay"):
                label += f", weight EMA {recipe['ema_decay']}"
            if recipe.get("patience", 3) != 3:  # every other run stops after 3 evaluations without a better score
                label += f", patience {recipe['patience']}"
            rows.append(
                f"| {run['run'].split('/')[-1]} (seed {run['seed']}) | {label} | {bench['date']} | "
                f"{train['steps']:,} ({train['images_per_second']:.0f}) | {chosen['dev_auc']:.4f} | "
                f"{pct(chosen['dev_rank1'])} | {pct(chosen['dev_dir_at_fpir_0.05'])} | "
                f"{late_auc:.4f} / {pct(late_dir)} | "
                f"{pct(test['verification_accuracy'])} | {test['roc_auc']:.4f} | {pct(test['tar_at_far_1e-3'])} | "
                f"{pct(test['open_set_rank1'])} | {test['open_set_known_vs_unknown_auc']:.3f} |"
            )
    return "\n".join(rows) + "\n" + source(*names)


def paired_by_seed(before: str, after: str) -> str:
    """Two recipes run with the same seeds: each seed's late dev AUC (what a default is chosen on) and test figures,
    and the mean paired difference with its standard error, so that a gain can be told from the seeds' noise."""
    header = ["seed", "late dev AUC", "test AUC", "test TAR@FAR 1e-3", "test rank-1", "test known/unknown AUC"]
    rows = table_head(header)
    runs = {name: {r["seed"]: r for r in load(name)["runs"]} for name in (before, after)}
    seeds = sorted(set(runs[before]) & set(runs[after]))
    keys = [("roc_auc", "{:.4f}"), ("tar_at_far_1e-3", "{:.1%}"), ("open_set_rank1", "{:.1%}"),
            ("open_set_known_vs_unknown_auc", "{:.3f}")]  # fmt: skip

    def pair(a: float, b: float, fmt: str) -> str:
        return f"{fmt.format(a)} -> {fmt.format(b)}"

    differences = []
    for seed in seeds:
        a, b = runs[before][seed], runs[after][seed]
        differences.append(late_dev_auc(b) - late_dev_auc(a))
        cells = [pair(late_dev_auc(a), late_dev_auc(b), "{:.4f}")]
        cells += [pair(a["test"][k], b["test"][k], fmt) for k, fmt in keys]
        rows.append(f"| {seed} | " + " | ".join(cells) + " |")
    mean = statistics.mean(differences)
    error = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("nan")
    rows.append(f"| paired difference, mean ± s.e. | {mean:+.4f} ± {error:.4f} | | | | |")
    labels = [f"{load(n)['runs'][0]['recipe']['preprocess']['image_size']} px" for n in (before, after)]
    note = f"; {labels[0]} -> {labels[1]}, each run's test figures as its flow reported them"
    return "\n".join(rows) + "\n" + source(before, after, extra=note)


def ablation(name: str) -> str:
    bench = load(name)
    header = ["configuration", "train people (+ singles)", "dev AUC", "dev rank-1", "dev named right at FPIR 5%",
              "images/s"]  # fmt: skip
    rows = table_head(header)
    for run in bench["runs"]:
        best = run["best"]
        rows.append(
            f"| `{run['spec']}` | {run['train_people']:,} (+{run['train_singles']:,}) | {best['dev_auc']:.4f} | "
            f"{pct(best['dev_rank1'])} | {pct(best['dev_dir_at_fpir_0.05'])} | {run['images_per_second']:.1f} |"
        )
    shapes = sorted({(run["steps"], run["config"]["batch_size"]) for run in bench["runs"]})
    steps = " or ".join(f"{n} steps of {size} labelled images" for n, size in shapes)
    note = (
        f"; {bench['date']}; {steps} each, metrics at the selected step; dev: "
        f"{bench['dev_people']} people and {bench['dev_strangers']} strangers of the {bench['dev_fractions']} split, "
        f"{bench['dev_pairs']:,} pairs"
    )
    return "\n".join(rows) + "\n" + source(name, extra=note)


def test_time_resolution(name: str) -> str:
    bench = load(name)
    rows = ["| input px | crop share | flip | dev AUC | dev rank-1 | encoder work |", "|---|---|---|---|---|---|"]
    for r in bench["results"]:
        rows.append(
            f"| {r['image_size']} | {r['crop_fraction']:.2f} | {'yes' if r['flip_tta'] else 'no'} | "
            f"{r['dev_auc']:.4f} | {pct(r['dev_rank1'])} | {r['relative_compute']:.2f}x |"
        )
    note = f"; model {bench['model']}, {bench['date']}, {bench['dev_pairs']:,} dev pairs"
    return "\n".join(rows) + "\n" + source(name, extra=note)


def test_time_resolution_paired(*names: str) -> str:
    """The same test-input sweep on several models: each input's dev AUC against the training input's, per model."""
    benches = [load(name) for name in names]
    rows = table_head(["input px", "crop share", "flip", "dev AUC (mean of models)", "minus the training input's "
                       "(mean +- SE)", "higher in", "dev rank-1 (mean)", "encoder work per face"])  # fmt: skip
    for i, first in enumerate(benches[0]["results"]):
        aucs = [b["results"][i]["dev_auc"] for b in benches]
        gains = [auc - b["results"][0]["dev_auc"] for auc, b in zip(aucs, benches, strict=True)]
        paired = (
            f"{statistics.mean(gains):+.4f} +- {statistics.stdev(gains) / len(gains) ** 0.5:.4f} | "
            f"{sum(g > 0 for g in gains)} of {len(gains)}"
            if i
            else "- | -"
        )
        rows.append(
            f"| {first['image_size']} | {first['crop_fraction']:.2f} | {'yes' if first['flip_tta'] else 'no'} | "
            f"{statistics.mean(aucs):.4f} | {paired} | "
            f"{pct(statistics.mean(b['results'][i]['dev_rank1'] for b in benches))} | "
            f"{first['relative_compute'] / benches[0]['results'][0]['relative_compute']:.2f}x |"
        )
    return "\n".join(rows) + "\n" + source(*names, extra=f"; {benches[0]['dev_pairs']:,} dev pairs")


# the default recipe's same-day set (train_benchmark.json), each run's weights measured with both test inputs
TEST_INPUT_RUNS = ("1796465068070073", "1796469589049740", "1796474401315869")

TEST_INPUT_ARMS = {"one size": "192 px", "with extra sizes": "192 + 224 px"}

TEST_INPUT_FILES = tuple(f"test_input_benchmark_{run}.json" for run in TEST_INPUT_RUNS)


def runs_note(first: dict) -> str:
    """The start of the source line of a table of the three runs' mean ± sd: the date and the runs."""
    return f"; {first['date']}; runs {', '.join(TEST_INPUT_RUNS)}, mean ± sd"


def test_input_benches() -> list[dict]:
    return [load(name) for name in TEST_INPUT_FILES]


def test_input() -> str:
    """Each run's weights with one test input size and with the extra ones (`bench/test_input_benchmark.py`): dev
    figures (what the choice rests on) and the flow's test figures, then the paired differences over the runs."""
    benches = test_input_benches()
    four, three = (lambda v: f"{v:.4f}"), (lambda v: f"{v:.3f}")
    columns = [
        ("dev", "dev_auc", four), ("dev", "dev_rank1", pct), ("dev", "dev_dir_at_fpir_0.05", pct),
        ("dev", "dev_known_vs_unknown_auc", three), ("test", "verification_accuracy", pct), ("test", "roc_auc", four),
        ("test", "tar_at_far_1e-3", pct), ("test", "open_set_rank1", pct),
        ("test", "open_set_known_vs_unknown_auc", three), ("test", "ece_15_bins", three),
    ]  # fmt: skip
    rows = table_head(["run", "test input", "dev AUC", "dev rank-1", "dev named right at FPIR 5%",
                       "dev known/unknown AUC", "test verification", "test AUC", "test TAR@FAR 1e-3", "test rank-1",
                       "test known/unknown AUC", "test ECE (pairs)", "ms per photo"])  # fmt: skip
    for run, bench in zip(TEST_INPUT_RUNS, benches, strict=True):
        for arm, label in TEST_INPUT_ARMS.items():
            result = bench["arms"][arm]
            cells = [fmt(result[part][key]) for part, key, fmt in columns]
            rows.append(f"| {run} | {label} | " + " | ".join(cells) + f" | {result['ms_per_photo']:.0f} |")
    one, extra = TEST_INPUT_ARMS
    gains = []
    for part, key, fmt in columns:
        diffs = [b["arms"][extra][part][key] - b["arms"][one][part][key] for b in benches]
        gains.append(paired_difference(diffs, in_points=fmt is pct))
    cost = [b["arms"][extra]["ms_per_photo"] / b["arms"][one]["ms_per_photo"] for b in benches]
    rows.append(
        f"| difference, mean ± sd of {len(benches)} runs | | "
        + " | ".join(gains)
        + f" | x{statistics.mean(cost):.1f} |"
    )
    first = benches[0]
    note = (
        f"; {first['date']}, {first['machine']}; dev: {first['dev_people']} people, {first['dev_strangers']} strangers;"
        f" test: {first['test_people']} people, {first['test_strangers']} strangers; both inputs flip-averaged, "
        "calibrators fitted on dev for each; ms per photo: decoding, preprocessing and the encoder"
    )
    return "\n".join(rows) + "\n" + source(*TEST_INPUT_FILES, extra=note)


def test_input_open_set() -> str:
    """The open-set answers of the same runs at each test input, on the crops as the flow measures them: mean ± sd
    over the runs, each input with the calibrators fitted on dev for it."""
    benches = test_input_benches()
    rows = table_head(["photos per person", "rule", "test input", "rank-1", "named right at FPIR 5%",
                       "strangers named at the default", "ECE"])  # fmt: skip
    rules = {"pair": "best face + pair calibrator", "open_set": "people + open-set calibrator"}
    for gallery in benches[0]["arms"]["one size"]["test_open_set"]:
        for rule, rule_label in rules.items():
            for arm, label in TEST_INPUT_ARMS.items():
                results = [b["arms"][arm]["test_open_set"][gallery][rule] for b in benches]
                cells = [
                    mean_sd([r["rank1"] for r in results], pct),
                    mean_sd([1 - r["fnir_at_fpir_0.05"] for r in results], pct),
                    mean_sd([r["strangers_named"] for r in results], pct),
                    mean_sd([r["ece_15_bins"] for r in results], lambda v: f"{v:.3f}"),
                ]
                rows.append(f"| {gallery.split('_')[0]} | {rule_label} | {label} | " + " | ".join(cells) + " |")
    first = benches[0]
    note = (
        f"{runs_note(first)}; {first['test_people']} test people, {first['test_strangers']} test strangers, the given "
        "crops (the flow's evaluate step)"
    )
    return "\n".join(rows) + "\n" + source(*TEST_INPUT_FILES, extra=note)


SEARCH_FILES = tuple(f"test_input_search_{run}.json" for run in TEST_INPUT_RUNS)
SEARCH_REFERENCE = "192+224"  # the served input the search measures every arm against


def test_input_search() -> str:
    """Test inputs searched on dev people (`bench/test_input_search.py`): each arm's dev figures, mean ± sd over the
    three runs, and the paired difference to the served input (192 + 224 px) over the same runs."""
    benches = [load(name) for name in SEARCH_FILES]
    three, four = (lambda v: f"{v:.3f}"), (lambda v: f"{v:.4f}")
    columns = [("dev_auc", four), ("dev_known_vs_unknown_auc", three), ("dev_rank1", pct),
               ("dev_dir_at_fpir_0.05", pct)]  # fmt: skip
    rows = table_head(["test input (px)", "pixels per face", "dev AUC", "dev known/unknown AUC", "dev rank-1",
                       "dev named right at FPIR 5%", f"AUC - {SEARCH_REFERENCE}", f"known/unknown AUC - "
                       f"{SEARCH_REFERENCE}", "AUC higher in"])  # fmt: skip
    reference = [b["arms"][SEARCH_REFERENCE]["dev"] for b in benches]
    for arm, first in benches[0]["arms"].items():
        figures = [b["arms"][arm]["dev"] for b in benches]
        cells = [mean_sd([f[key] for f in figures], fmt) for key, fmt in columns]
        differences = [
            [f[key] - r[key] for f, r in zip(figures, reference, strict=True)]
            for key in ("dev_auc", "dev_known_vs_unknown_auc")
        ]
        higher = sum(d > 0 for d in differences[0])
        cells += [paired_difference(d, in_points=False) if arm != SEARCH_REFERENCE else "" for d in differences]
        cells.append(f"{higher} of {len(benches)}" if arm != SEARCH_REFERENCE else "")
        label = " + ".join(arm.split("+")) + (" (served)" if arm == SEARCH_REFERENCE else "")
        rows.append(f"| {label} | {first['pixels']:,} | " + " | ".join(cells) + " |")
    first = benches[0]
    note = (
        f"{runs_note(first)} over the runs; dev: {first['dev_people']} people, {first['dev_strangers']} strangers; "
        f"every size flip-averaged at crop {first['test_crop_fraction']}"
    )
    return "\n".join(rows) + "\n" + source(*SEARCH_FILES, extra=note)


SPLIT_FILES = tuple(f"known_unknown_split_{run}.json" for run in TEST_INPUT_RUNS)


def needed(value: float | None, fmt: Callable[[float], str]) -> str:
    """A share or AUC a target needs: past 1 (or undefined) it cannot be reached that way."""
    return fmt(value) if value is not None and value <= 1 else "out of reach"


def known_unknown_split() -> str:
    """Known-vs-unknown AUC split by whether a known probe's best match is right (`bench/known_unknown_split.py`),
    and what issue 13's target would need of each part with the other as it is."""
    benches = [load(name) for name in SPLIT_FILES]
    rows = table_head(["run", "people", "rank-1", "known/unknown AUC", "AUC, probes named right", "AUC, probes named "
                       "wrong", "AUC if every right match beat every stranger", "rank-1 needed for 0.80",
                       "AUC of right matches needed for 0.80"])  # fmt: skip
    for run, bench in zip(TEST_INPUT_RUNS, benches, strict=True):
        for part in ("dev", "test"):
            f = bench[part]
            rank1, right, wrong, target = f["rank1"], f["auc_named_right"], f["auc_named_wrong"], bench["target"]
            right_needed = (target - (1 - rank1) * wrong) / rank1
            cells = [pct(rank1), f"{f['known_vs_unknown_auc']:.3f}", f"{right:.3f}", f"{wrong:.3f}",
                     f"{f['ceiling_at_this_rank1']:.3f}", needed(f["rank1_needed_for_target"], pct),
                     needed(right_needed, lambda v: f"{v:.3f}")]  # fmt: skip
            rows.append(f"| {run} | {part} | " + " | ".join(cells) + " |")
    first = benches[0]
    note = (
        f"; {first['date']}; served at {' + '.join(map(str, first['test_input_sizes']))} px; one photo per person "
        f"enrolled; dev: {first['dev']['known_probes']:,} known probes, {first['dev']['strangers']} strangers; test: "
        f"{first['test']['known_probes']:,} known probes, {first['test']['strangers']} strangers"
    )
    return "\n".join(rows) + "\n" + source(*SPLIT_FILES, extra=note)


TRAIN_DEVICE_RUNS = (
    "train_device_benchmark_vm.json", "train_device_benchmark_h200_cpu.json", "train_device_benchmark_h200_cuda.json",
)  # fmt: skip


def train_device() -> str:
    """The default recipe's training loop on each machine and device measured (`bench/train_device_benchmark.py`)."""
    rows = table_head(["machine", "device", "data-loading workers", "steps", "images/s", "trained model back on"])
    for name in TRAIN_DEVICE_RUNS:
        bench = load(name)
        for r in bench["runs"]:
            device = bench["gpu"] if r["device"] == "cuda" else "CPU"
            rows.append(
                f"| {bench['machine']} | {device} | {r['num_workers']} | {r['steps']} | {r['images_per_second']:,.0f} "
                f"| {r['encoder_returned_on'].upper()} (ONNX, {r['served_embeddings']} dev photos embedded) |"
            )
    dates = sorted({load(name)["date"] for name in TRAIN_DEVICE_RUNS})
    return "\n".join(rows) + "\n" + source(*TRAIN_DEVICE_RUNS, extra=f"; {', '.join(dates)}")


# runs of bench/schedule_length_benchmark.py on a GPU, and the training seed of runs written before it recorded one
SCHEDULE_RUNS = {"schedule_length_benchmark.json": 42, "schedule_length_benchmark_seed2.json": 2}


def schedule_length() -> str:
    """The default recipe for its whole schedule and for three times as long, on a GPU (dev people only)."""
    header = ["seed", "epochs (steps)", "dev evaluations", "kept step", "images/s", "dev AUC at the kept step",
              "dev AUC / rank-1 / named right at FPIR 5%, flip-averaged as served"]  # fmt: skip
    rows = table_head(header)
    for name, seed in SCHEDULE_RUNS.items():
        for run in load(name)["runs"]:
            final = run["selected_dev_with_flip"]
            rows.append(
                f"| {run.get('seed', seed)} | {run['epochs']} ({run['steps']:,}) | {len(run['history'])} | "
                f"{run['best_step']:,} | {run['images_per_second']:.0f} | {run['best_dev_auc']:.4f} | "
                f"{final['dev_auc']:.4f} / {pct(final['dev_rank1'])} / {pct(final['dev_dir_at_fpir_0.05'])} |"
            )
    bench = load(next(iter(SCHEDULE_RUNS)))
    note = f"; {bench['date']}, {bench['gpu']}; the default split's dev people and dev strangers, as the flow measures"
    return "\n".join(rows) + "\n" + source(*SCHEDULE_RUNS, extra=note)


def identities() -> str:
    """Train + most of dev against the default split, the same steps on a GPU, on the dev people both leave out."""
    bench = load("identities_benchmark.json")
    header = ["seed", "training people", "steps (kept)", "late dev AUC", "late dev rank-1",
              "late dev named right at FPIR 5%", "kept, flip-averaged: dev AUC / rank-1 / named right"]  # fmt: skip
    rows = table_head(header)
    for run in sorted(bench["runs"], key=lambda r: (r["seed"], r["train_people"])):
        final = run["selected_dev_with_flip"]
        rows.append(
            f"| {run['seed']} | {run['train_people']:,} ({run['arm']}) | {run['steps']:,} ({run['best_step']:,}) | "
            f"{run['late_dev_auc']:.4f} | {pct(run['late_dev_rank1'])} | {pct(run['late_dev_dir_at_fpir_0.05'])} | "
            f"{final['dev_auc']:.4f} / {pct(final['dev_rank1'])} / {pct(final['dev_dir_at_fpir_0.05'])} |"
        )
    dev = bench["dev"]
    note = (
        f"; {bench['date']}, {bench['gpu']}; at most {bench['max_steps']:,} steps, no time budget; selected and "
        f"measured on the {dev['people']} dev people and {dev['strangers']} dev strangers of the 0.7 / 0.1 / 0.2 split "
        f"({dev['pairs']:,} pairs); late = mean of the last 4 evaluations"
    )
    return "\n".join(rows) + "\n" + source("identities_benchmark.json", extra=note)
