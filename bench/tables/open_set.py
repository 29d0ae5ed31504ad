"""Tables of the open-set answer: the README's open-set table, calibration studies, cohort normalisation."""

from __future__ import annotations

import statistics

from bench.tables.common import OPEN_SET_2026_12_04, PATHS, ece, galleries, load, pct, side_by_side, source, table_head


def open_set_seeds(*names: str, calibration: str = "each model with its flow's own calibrator and threshold") -> str:
    """The served open-set answer of several runs of one recipe on the same test galleries
    (`bench/open_set_benchmark.py` once per model): each run, then mean ± sd, so a target can be told from one
    model's luck. Benchmarks that report each rule's known-vs-unknown AUC (since 2026-12-05) get a column for it."""
    header = ["model (run)", "photos/person", "rank-1", "named right at FPIR 5%: open-set rule / old rule (gain)",
              "at default: strangers named / known right", "ECE"]  # fmt: skip
    benches = [load(name) for name in names]
    with_auc = all(
        "known_vs_unknown_auc" in b["results"]["detected"][g]["open_set"]
        for b in benches
        for g in galleries(b["results"]["detected"])
    )
    if with_auc:
        header.append("known/unknown AUC: open-set rule / old rule")
    rows = table_head(header)
    per_photos: dict[str, list[dict]] = {}
    for bench in benches:
        run = bench["model"].rsplit("/", 1)[-1]
        for gallery in galleries(bench["results"]["detected"]):
            result = bench["results"]["detected"][gallery]
            k = gallery.split("_")[0]
            ours, old = result["open_set"], result["pair"]
            entry = {
                "rank1": ours["rank1"],
                "named": 1 - ours["fnir_at_fpir_0.05"],
                "old": 1 - old["fnir_at_fpir_0.05"],
                "strangers": ours["strangers_named"],
                "known": ours["known_named_correctly"],
                "ece": ours["ece_15_bins"],
            }
            entry["gain"] = entry["named"] - entry["old"]
            auc = ""
            if with_auc:
                entry["auc"], entry["auc_old"] = ours["known_vs_unknown_auc"], old["known_vs_unknown_auc"]
                auc = f" {entry['auc']:.3f} / {entry['auc_old']:.3f} |"
            per_photos.setdefault(k, []).append(entry)
            rows.append(
                f"| {run} | {k} | {pct(entry['rank1'])} | {pct(entry['named'])} / {pct(entry['old'])} "
                f"({100 * entry['gain']:+.1f}) | {pct(entry['strangers'])} / {pct(entry['known'])} | "
                f"{entry['ece']:.3f} |{auc}"
            )

    def spread(entries: list[dict], key: str, points: bool = True) -> str:
        values = [e[key] for e in entries]
        mean, sd = statistics.mean(values), statistics.stdev(values)
        sign = "+" if key == "gain" else ""
        return f"{100 * mean:{sign}.1f} ± {100 * sd:.1f}" if points else f"{mean:.3f} ± {sd:.3f}"

    for k, entries in per_photos.items():
        auc = f" {spread(entries, 'auc', False)} / {spread(entries, 'auc_old', False)} |" if with_auc else ""
        rows.append(
            f"| mean ± sd of {len(entries)} | {k} | {spread(entries, 'rank1')} | {spread(entries, 'named')} / "
            f"{spread(entries, 'old')} ({spread(entries, 'gain')}) | {spread(entries, 'strangers')} / "
            f"{spread(entries, 'known')} | {spread(entries, 'ece', points=False)} |{auc}"
        )
    first = benches[0]
    note = (
        f"; {first['date']}; {first['test_people']} test people, {first['test_strangers']} test strangers, photos "
        f"through detection; {calibration}; percentages, and points for the mean ± sd"
    )
    return "\n".join(rows) + "\n" + source(*names, extra=note)


def open_set_results() -> str:
    bench = load("open_set_benchmark.json")
    header = ["photos per person", "rule", "rank-1", "named right at FPIR 1% / 5%",
              "at the default threshold: strangers named", "known named right", "known named wrong", "ECE"]  # fmt: skip
    rows = table_head(header)
    score = bench["open_set_fit"]["chosen"]  # how a person's faces make their score (max, top2, centroid)
    names = {"pair": "best face + pair calibrator (before)", "open_set": f"**people ({score}) + open-set calibrator**"}
    for gallery in galleries(bench["results"]["detected"]):
        entry = bench["results"]["detected"][gallery]
        for rule in ("pair", "open_set"):
            r = entry[rule]
            rows.append(
                f"| {gallery[0]} ({entry['people_enrolled']} people) | {names[rule]} | {pct(r['rank1'])} | "
                f"{pct(1 - r['fnir_at_fpir_0.01'])} / {pct(1 - r['fnir_at_fpir_0.05'])} | {pct(r['strangers_named'])} "
                f"| {pct(r['known_named_correctly'])} | {pct(r['known_named_wrongly'])} | {ece(r)} |"
            )
    crops = bench["results"]["crops"]["1_photos"]["open_set"]
    # the ECE a perfectly calibrated answer shows on as many probes (95th percentile): below it, sampling noise
    detected = bench["results"]["detected"]
    floors = [detected[k]["open_set"]["ece_noise_floor"]["p95"] for k in galleries(detected)
              if "ece_noise_floor" in detected[k]["open_set"]]  # fmt: skip
    if "ece_interval" in crops:  # the spread over people says more than the floor, which assumes independent probes
        noise = "; ECE (95% interval over people)"
    else:
        noise = f"; ECE of a perfectly calibrated answer: up to {max(floors):.3f} (noise)" if floors else ""
    recalibrated = bench.get("recalibrated")
    refit = ""
    if recalibrated:  # a published run's weights with calibrators refitted (python -m facerec.train.recalibrate)
        sizes = recalibrated.get("test_input_sizes")
        refit = f" at {' + '.join(map(str, sizes))} px" if sizes else ""
        refit += f" (calibrators refitted on {recalibrated['on']})"
    aligned = f" ({bench['alignment']} alignment)" if bench.get("alignment") else ""
    note = (
        f"; {bench['model_version']}{refit}, {bench['date']}; {bench['test_people']} test people, "
        f"{bench['test_strangers']} test strangers, photos through detection{aligned}; on the given crops, 1 photo: "
        f"rank-1 {pct(crops['rank1'])}, named right at FPIR 5% {pct(1 - crops['fnir_at_fpir_0.05'])}{noise}"
    )
    return "\n".join(rows) + "\n" + source("open_set_benchmark.json", extra=note)


def open_set_fit() -> str:
    bench = load(OPEN_SET_2026_12_04)
    fit = bench["open_set_fit"]
    rows = ["| person score | dev held-out: named right at FPIR 5% | chosen |", "|---|---|---|"]
    for aggregate, figures in fit["aggregates"].items():
        chosen = "**yes**" if aggregate == fit["chosen"] else ""
        rows.append(f"| {aggregate} | {pct(1 - figures['held_out_fnir_at_fpir_0.05'])} | {chosen} |")
    note = f"; {bench['model_version']}; threshold P >= {fit['threshold']:.3f}, {fit['dev_probes']:,} dev probes"
    return "\n".join(rows) + "\n" + source(OPEN_SET_2026_12_04, extra=note)


def open_set_aggregate() -> str:
    """One model's open-set answers with its person score fitted as the best face (the flow's choice while only that
    and the mean of the best two could be served) and as the centroid (today's choice on dev), same test galleries."""
    header = ["path", "photos/person", "person score", "rank-1", "named right at FPIR 5% (pair rule)",
              "at default: strangers named / known right", "ECE"]  # fmt: skip
    rows = table_head(header)
    names = ("open_set_benchmark_2026-12-04_max.json", "open_set_benchmark_2026-12-04_160.json")
    benches = [load(name) for name in names]
    for mode, label in PATHS.items():
        for key in galleries(benches[0]["results"][mode]):
            for bench in benches:
                entry = bench["results"][mode][key]
                r, pair = entry["open_set"], entry["pair"]
                rows.append(
                    f"| {label} | {key[0]} | {bench['open_set_fit']['chosen']} | {pct(r['rank1'])} | "
                    f"{pct(1 - r['fnir_at_fpir_0.05'])} ({pct(1 - pair['fnir_at_fpir_0.05'])}) | "
                    f"{pct(r['strangers_named'])} / {pct(r['known_named_correctly'])} | {ece(r)} |"
                )
    note = (
        f"; {benches[1]['model_version']}, {benches[1]['date']}: as its flow fitted it, and its calibrators "
        "refitted with `python -m facerec.train.recalibrate`"
    )
    return "\n".join(rows) + "\n" + source(*names, extra=note)


def calibration_domain() -> str:
    """The open-set calibrator fitted on dev crops (the flow's way) against dev photos through the detector, both
    measured on the same test galleries."""
    header = ["calibrator fitted on", "path measured", "ECE, 1 / 2 / 3 photos", "perfectly calibrated (p95)",
              "named right at FPIR 5%, 1 / 2 / 3 photos"]  # fmt: skip
    rows = table_head(header)
    names = ["open_set_benchmark_crops_calibration.json", "open_set_benchmark_detected_calibration.json"]
    for name in names:
        bench = load(name)
        for mode, label in PATHS.items():
            galleries = [bench["results"][mode][f"{k}_photos"]["open_set"] for k in (1, 2, 3)]
            eces = " / ".join(ece(g) for g in galleries)
            floors = " / ".join(f"{g['ece_noise_floor']['p95']:.3f}" for g in galleries)
            rates = " / ".join(pct(1 - g["fnir_at_fpir_0.05"]) for g in galleries)
            rows.append(f"| {bench['recalibrated']['on']} | {label} | {eces} | {floors} | {rates} |")
    note = f"; {load(names[0])['model_version']}, calibrators refitted with `python -m facerec.train.recalibrate`"
    return "\n".join(rows) + "\n" + source(*names, extra=note)


def diagnosis_source(bench: dict, fitted_at: str = "") -> str:
    """The source line of a `bench/calibration_diagnosis.py` table: which strangers fitted, which measured."""
    note = (
        f"; {bench['model_version']}, {bench['date']}; fitted with {bench['dev_strangers_fit']} dev strangers"
        f"{fitted_at}, measured with the other {bench['dev_strangers_held_out']}"
    )
    return source("calibration_diagnosis.json", extra=note)


def calibration_diagnosis() -> str:
    bench = load("calibration_diagnosis.json")
    header = ["dev galleries", "probes", "strangers", "mean P", "share named right", "ECE",
              "perfectly calibrated (p95)"]  # fmt: skip
    rows = table_head(header)
    entries = [("held-out simulation rounds", bench["held_out_simulation"])] + [
        (f"shaped like the test protocol, {k[0]} photo(s)", v) for k, v in bench["protocol_shaped"].items()
    ]
    for label, e in entries:
        rows.append(
            f"| {label} | {e['probes']:,} | {pct(e['stranger_share'])} | {e['mean_probability']:.3f} | "
            f"{e['share_right']:.3f} | {ece(e)} | {e['ece_noise_floor']['p95']:.3f} |"
        )
    return "\n".join(rows) + "\n" + diagnosis_source(bench)


def stranger_mix() -> str:
    bench = load("calibration_diagnosis.json")
    mix = bench["stranger_mix"]
    header = ["dev gallery", "probes", "strangers", "share named right", "ECE: one joint map (before)",
              "two parts, fitted share (default)", "two parts told the share",
              "perfectly calibrated (p95)"]  # fmt: skip
    rows = table_head(header)
    for g in mix["galleries"]:
        rows.append(
            f"| {g['photos']} photo(s) | {g['probes']:,} | {pct(g['stranger_share'])} | {g['share_right']:.3f} | "
            f"{g['ece_joint']:.3f} | {g['ece_parts_at_fitted_share']:.3f} | {g['ece_parts_told_the_share']:.3f} | "
            f"{g['ece_noise_floor']['p95']:.3f} |"
        )
    return "\n".join(rows) + "\n" + diagnosis_source(bench, f" at {pct(mix['fitted_share'])} strangers")


def open_set_told_share() -> str:
    bench = load(OPEN_SET_2026_12_04)
    header = ["path", "photos/person", "strangers among the probes", "ECE, fitted share (default)",
              "ECE, told the gallery's share", "at default, told: strangers named / known right"]  # fmt: skip
    rows = table_head(header)
    for mode, label in PATHS.items():
        for key in galleries(bench["results"][mode]):
            entry = bench["results"][mode][key]
            if "open_set_told_share" not in entry:
                continue
            told = entry["open_set_told_share"]
            rows.append(
                f"| {label} | {key[0]} | {pct(told['stranger_share'])} | {ece(entry['open_set'])} | {ece(told)} | "
                f"{pct(told['strangers_named'])} / {pct(told['known_named_correctly'])} |"
            )
    note = f"; {bench['model_version']}, {bench['date']}; {bench['calibration']}"
    return "\n".join(rows) + "\n" + source(OPEN_SET_2026_12_04, extra=note)


def open_set_error_split() -> str:
    bench = load(OPEN_SET_2026_12_04)
    header = ["path", "photos/person", "known probes", "strangers (share)", "known: mean P / share named right",
              "strangers: mean P (all over-confidence)", "ECE"]  # fmt: skip
    rows = table_head(header)
    for mode, label in PATHS.items():
        for key in galleries(bench["results"][mode]):
            e = bench["results"][mode][key]["open_set"]
            share = e["strangers"] / (e["strangers"] + e["known_probes"])
            rows.append(
                f"| {label} | {key[0]} | {e['known_probes']:,} | {e['strangers']:,} ({pct(share)}) | "
                f"{e['mean_probability_known']:.3f} / {e['rank1']:.3f} | {e['mean_probability_strangers']:.3f} | "
                f"{e['ece_15_bins']:.3f} |"
            )
    note = f"; {bench['model_version']}, {bench['date']}; open-set rule at the model's calibrator"
    return "\n".join(rows) + "\n" + source(OPEN_SET_2026_12_04, extra=note)


def gallery_scale() -> str:
    bench = load("gallery_scale_benchmark.json")
    header = ["photos/person", "people enrolled (distractors)", "rank-1", "named right at FPIR 5%",
              "at default: strangers named", "known right", "known wrong", "ECE (95% over people)",
              "mean P: known / strangers"]  # fmt: skip
    rows = table_head(header)
    for key, entries in bench["results"].items():
        for e in entries:
            rows.append(
                f"| {key[0]} | {e['people']:,} ({e['distractors']:,}) | {pct(e['rank1'])} | "
                f"{pct(1 - e['fnir_at_fpir_0.05'])} | {pct(e['strangers_named'])} | "
                f"{pct(e['known_named_correctly'])} | {pct(e['known_named_wrongly'])} | {ece(e)} | "
                f"{e['mean_probability_known']:.3f} / {e['mean_probability_strangers']:.3f} |"
            )
    note = (
        f"; {bench['model_version']}, {bench['date']}; {bench['path']}; threshold P >= {bench['threshold']:.3f}; "
        f"{bench['test_strangers']} test strangers"
    )
    return "\n".join(rows) + "\n" + source("gallery_scale_benchmark.json", extra=note)


def points_gain(share: float) -> str:
    """A change in a share, in signed points to one decimal."""
    return f"{round(100 * share, 1) + 0.0:+.1f}"  # + 0.0: no "-0.0" for a gain that rounds to nothing


def held_out_gains(arm: dict, base: dict) -> str:
    """An arm's detection rates at FPIR 1% / 5% against a base arm's, in points (the held-out dev benches)."""
    return " / ".join(points_gain(arm[key] - base[key]) for key in ("dir_at_fpir_0.01", "dir_at_fpir_0.05"))


def seed_gain(entry: dict) -> str:
    """A paired gain of `bench/cohort_norm_benchmark.py` ({mean, sd} over simulation seeds) in points."""
    return f"{points_gain(entry['mean'])} ± {100 * entry['sd']:.1f}"


def cohort_bench_source(names: list[str]) -> str:
    """The source line of a table built from `bench/cohort_norm_benchmark.py` results (one JSON per model)."""
    first = load(names[0])
    note = (
        f"; {first['date']}; points, mean ± sd over {len(first['seeds'])} simulation seeds (each seed's calibrator "
        f"fitted on its even rounds); {first['dev_people']} dev people, {first['dev_strangers']} dev strangers, a "
        f"cohort of {first['cohort']:,} train-part singles; dev crops"
    )
    return source(*names, extra=note)


COHORT_NORM_RUNS = ("1796452819755171", "1796455267345202", "1796458453714713")


def cohort_norm() -> str:
    """Each cohort-normalisation arm against the probe side alone, paired by simulation seed, on three models' dev
    people (`bench/cohort_norm_benchmark.py`)."""
    header = ["model (run)", "evidence", "dev held-out: named right at FPIR 5%", "gain, held-out rounds",
              "gain on protocol-shaped dev galleries, 1 / 2 / 3 photos", "1-photo rank-1 gain"]  # fmt: skip
    rows = table_head(header)
    names = [f"cohort_norm_benchmark_{run}.json" for run in COHORT_NORM_RUNS]
    labels = {"probe_z": "probe side (before)", "probe_z+gallery_z": "+ the person's side (`gallery_z`)",
              "snorm_ranked": "people ranked by the symmetric z-score"}  # fmt: skip

    for name in names:
        bench = load(name)
        run = bench["model"].rsplit("/", 1)[-1]
        for arm, label in labels.items():
            held = pct(bench["arms"][arm]["held_out_mean"]["named_right_at_fpir_0.05"])
            if arm == "probe_z":
                rows.append(f"| {run} | {label} | {held} | | | |")
                continue
            g = bench["paired_gains_over_probe_z"][arm]
            protocol = " / ".join(seed_gain(g[f"protocol_{k}_photos_named_right_at_fpir_0.05"]) for k in (1, 2, 3))
            # the sixth feature only changes P, never who is named: no rank-1 change by construction
            rank1 = seed_gain(g["protocol_1_photos_rank1"]) if arm == "snorm_ranked" else "(same people named)"
            held_gain = seed_gain(g["held_out_named_right_at_fpir_0.05"])
            rows.append(f"| {run} | {label} | {held} | {held_gain} | {protocol} | {rank1} |")
    return "\n".join(rows) + "\n" + cohort_bench_source(names)


SERVED_RULE_RUNS = ("1796465068070073", "1796469589049740")  # the default recipe's two runs of 2026-12-05


def served_rule() -> str:
    """Who is named: the best person by score (the simulations), the most probable candidate (the recognizer), or the
    best by the symmetric z-score; against the six features' best-by-score answer, on the default recipe's dev
    people (`bench/cohort_norm_benchmark.py`)."""
    header = ["model (run)", "who is named", "dev held-out: rank-1 / named right at FPIR 5%",
              "gain, held-out rounds: rank-1 / named right", "rank-1 gain with 1 / 2 / 3 photos",
              "named-right gain with 1 / 2 / 3 photos"]  # fmt: skip
    rows = table_head(header)
    names = [f"cohort_norm_benchmark_{run}.json" for run in SERVED_RULE_RUNS]
    labels = {"probe_z+gallery_z": "the best by score (six features)",
              "served_rule": "the most probable of the 10 best (as served)",
              "snorm_ranked+six": "the best by symmetric z-score (six features)"}  # fmt: skip

    for name in names:
        bench = load(name)
        run = bench["model"].rsplit("/", 1)[-1]
        for arm, label in labels.items():
            held = bench["arms"][arm]["held_out_mean"]
            figures = f"{pct(held['rank1'])} / {pct(held['named_right_at_fpir_0.05'])}"
            if arm == "probe_z+gallery_z":
                rows.append(f"| {run} | {label} | {figures} | | | |")
                continue
            g = bench["paired_gains_over_probe_z+gallery_z"][arm]
            by_photos = {
                key: " / ".join(seed_gain(g[f"protocol_{k}_photos_{key}"]) for k in (1, 2, 3))
                for key in ("rank1", "named_right_at_fpir_0.05")
            }
            rows.append(
                f"| {run} | {label} | {figures} | {seed_gain(g['held_out_rank1'])} / "
                f"{seed_gain(g['held_out_named_right_at_fpir_0.05'])} | {by_photos['rank1']} | "
                f"{by_photos['named_right_at_fpir_0.05']} |"
            )
    return "\n".join(rows) + "\n" + cohort_bench_source(names)


def gallery_z_test() -> str:
    """Three models' open-set answers on the same test galleries, with the calibrator their flow fitted (five
    features) and refitted on the same dev people with the person's side of the cohort normalisation (six)."""
    header = ["model (run)", "photos/person", "evidence", "rank-1", "named right at FPIR 1% / 5%",
              "at default: strangers named / known right", "ECE"]  # fmt: skip
    rows = table_head(header)
    names = []
    for run in COHORT_NORM_RUNS:
        pair = {"five (flow)": f"open_set_benchmark_gallery_z_before_{run}.json",
                "six (+ `gallery_z`)": f"open_set_benchmark_gallery_z_{run}.json"}  # fmt: skip
        names += pair.values()
        for key, label, r in side_by_side({label: load(name) for label, name in pair.items()}):
            rows.append(
                f"| {run} | {key[0]} | {label} | {pct(r['rank1'])} | {pct(1 - r['fnir_at_fpir_0.01'])} / "
                f"{pct(1 - r['fnir_at_fpir_0.05'])} | {pct(r['strangers_named'])} / "
                f"{pct(r['known_named_correctly'])} | {ece(r)} |"
            )
    bench = load(names[-1])
    note = (
        f"; {bench['date']}; {bench['test_people']} test people, {bench['test_strangers']} test strangers, photos "
        "through detection; six features: `python -m facerec.train.recalibrate` on the same dev part"
    )
    return "\n".join(rows) + "\n" + source(*names, extra=note)


# `bench/open_set_map_search.py`: the three runs that raised the question, then the four that were to confirm it
OPEN_SET_MAP_SEARCHES = (
    ("search", "open_set_map_search.json"),
    ("confirmation", "open_set_map_search_seed4.json"),
    ("confirmation", "open_set_map_search_seeds1-3.json"),
    ("exploration", "open_set_map_search_trees_isotonic.json"),
)


def open_set_map() -> str:
    """The open-set calibrator's map, additive (today) against quadratic and gradient-boosted trees, on dev
    simulations held out by round (`bench/open_set_map_search.py`)."""
    header = ["set", "model (run)", "map", "dev held-out: named right at FPIR 1% / 5%", "against additive",
              "ECE"]  # fmt: skip
    rows = table_head(header)
    labels = {"linear": "additive (today)", "quadratic": "quadratic", "trees": "trees (ceiling, not servable)",
              "trees_isotonic": "small trees + isotonic stage"}  # fmt: skip
    shown: set[tuple[str, str]] = set()
    for label, name in OPEN_SET_MAP_SEARCHES:
        for model in load(name)["models"]:
            run = model["model"].rsplit("/", 1)[-1]
            base = model["arms"]["linear"]
            for arm, arm_label in labels.items():
                # each search measured its own arms; a later one repeats earlier arms (same models, same simulations)
                if arm not in model["arms"] or (run, arm) in shown:
                    continue
                shown.add((run, arm))
                r = model["arms"][arm]
                gain = "" if arm == "linear" else held_out_gains(r, base)
                rows.append(
                    f"| {label} | {run} | {arm_label} | {pct(r['dir_at_fpir_0.01'])} / "
                    f"{pct(r['dir_at_fpir_0.05'])} | {gain} | {r['ece_15_bins']:.3f} |"
                )
    names = [name for _, name in OPEN_SET_MAP_SEARCHES]
    bench = load(names[0])
    first = bench["models"][0]
    note = (
        f"; {bench['date']}; served input {' + '.join(map(str, first['test_input_sizes']))} px; the flow's 24 dev "
        f"simulations per model ({first['dev_probes']:,} probes, {100 * first['dev_stranger_share']:.0f}% "
        "strangers), each map fitted on one half of the rounds and scored on the other, both ways; points against "
        "additive; dev crops"
    )
    return "\n".join(rows) + "\n" + source(*names, extra=note)


def open_set_views() -> str:
    """The open-set evidence with and without the served input's two views' disagreement, on dev simulations held out
    by round (`bench/open_set_view_evidence.py`)."""
    header = ["model (run)", "view gap: right / wrong / strangers", "views agree: right / wrong / strangers",
              "evidence", "dev held-out: named right at FPIR 1% / 5%", "against six", "ECE"]  # fmt: skip
    rows = table_head(header)
    name = "open_set_view_evidence.json"
    bench = load(name)
    groups = ("known_named_right", "known_named_wrong", "strangers")
    for model in bench["models"]:
        run = model["model"].rsplit("/", 1)[-1]
        gap = " / ".join(f"{model['view_gap_mean'][g]:.3f}" for g in groups)
        agree = " / ".join(pct(model["views_agree_share"][g]) for g in groups)
        base = model["arms"]["six"]
        for arm, label in (("six", "six columns (today)"), ("six+views", "+ view gap, views agree")):
            r = model["arms"][arm]
            gain = "" if arm == "six" else held_out_gains(r, base)
            first = (run, gap, agree) if arm == "six" else ("", "", "")
            rows.append(
                f"| {' | '.join(first)} | {label} | {pct(r['dir_at_fpir_0.01'])} / {pct(r['dir_at_fpir_0.05'])} | "
                f"{gain} | {r['ece_15_bins']:.3f} |"
            )
    first = bench["models"][0]
    note = (
        f"; {bench['date']}; served input {' + '.join(map(str, first['test_input_sizes']))} px; view gap: mean "
        "|score of the named person at one size - at the other|; the flow's 24 dev simulations per model "
        f"({first['dev_probes']:,} probes), the additive map fitted on one half of the rounds and scored on the "
        "other, both ways; points against six columns; dev crops"
    )
    return "\n".join(rows) + "\n" + source(name, extra=note)
