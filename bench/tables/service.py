"""Tables of the service: API latency, the index, person scores' cost, detection and alignment, reliability."""

from __future__ import annotations

from bench.tables.common import OPEN_SET_2026_12_04, ece, load, pct, side_by_side, source, table_head

# runs of bench/api_benchmark.py, interleaved on one VM: on 2026-12-04 the 192 px model and the 160 px one it
# replaced; on 2026-12-05 one model's weights served at 192 px, and at 192 + 224 px
API_RUNS = {
    "192 px model (default)": ("api_benchmark.json", "api_benchmark_rerun.json"),
    "160 px model (before)": ("api_benchmark_2026-12-04_160.json", "api_benchmark_2026-12-04_160_rerun.json"),
}

API_RUNS_TEST_INPUT = {
    "192 + 224 px (default)": ("api_benchmark_2026-12-05_192_224.json", "api_benchmark_2026-12-05_192_224_rerun.json"),
    "192 px (before)": ("api_benchmark_2026-12-05_192.json", "api_benchmark_2026-12-05_192_rerun.json"),
}


def api_benchmark(api_runs: dict[str, tuple[str, ...]]) -> str:
    """Latency and throughput of each model over its runs, as the range between runs: on a shared 2-core VM one run
    can land 40% slower than the next, so a single figure would say more about the neighbours than the model."""
    benches = {label: [load(name) for name in names] for label, names in api_runs.items()}

    def spread(values: list[float], fmt: str = "{:.1f}") -> str:
        low, high = min(values), max(values)
        return fmt.format(low) if fmt.format(low) == fmt.format(high) else f"{fmt.format(low)}-{fmt.format(high)}"

    def cells(case: str) -> list[str]:
        return [
            f"{spread([r[case]['p50_ms'] for r in runs])} / {spread([r[case]['p99_ms'] for r in runs])} ms"
            for runs in benches.values()
        ]

    rows = table_head(["`/api/v1/recognize` (uvicorn, ONNX Runtime, 1 worker)", *benches])
    cases = {"crop_250px_detect_false": "250 px face crop, `detect=false`, p50 / p99",
             "photo_640px_with_detection": "640x480 photo with MTCNN detection, p50 / p99"}  # fmt: skip
    rows += [f"| {label} | " + " | ".join(cells(case)) + " |" for case, label in cases.items()]
    clients = next(iter(benches.values()))[0]["throughput_crops"]["clients"]
    load_cells = [
        f"{spread([r['throughput_crops']['requests_per_s'] for r in runs])} requests/s, "
        f"{sum(r['throughput_crops']['errors'] for r in runs)} errors"
        for runs in benches.values()
    ]
    rows.append(f"| throughput, {clients} concurrent clients, crops | " + " | ".join(load_cells) + " |")
    first = next(iter(benches.values()))[0]
    models = "; ".join(f"{label}: {runs[0]['model']}" for label, runs in benches.items())
    note = (
        f"; {len(next(iter(api_runs.values())))} runs per model, ranges between runs; {models}; "
        f"{first['enrolled_faces']} enrolled faces, {first['date']}, {first['machine']}"
    )
    names = [name for pair in api_runs.values() for name in pair]
    return "\n".join(rows) + "\n" + source(*names, extra=note)


def index_benchmark() -> str:
    bench = load("index_benchmark.json")
    rows = [
        "| faces | index | nprobe | p50 ms | p99 ms | recall@1 vs exact | build s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in bench["rows"]:
        rows.append(
            f"| {r['faces']:,} | {r['index']} | {r['nprobe'] or '-'} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['recall_at_1']:.3f} | {r['build_s']:.1f} |"
        )
    note = f"; vectors around real embeddings of {bench['model']}, {bench['date']}"
    return "\n".join(rows) + "\n" + source("index_benchmark.json", extra=note)


def person_scores_cost() -> str:
    bench = load("person_scores_benchmark.json")
    header = ["faces (people x photos)", "search for the nearest faces, p50 / p99 ms",
              "every face of the people found, p50 / p99 ms", "people found per query"]  # fmt: skip
    rows = table_head(header)
    for r in bench["rows"]:
        rows.append(
            f"| {r['faces']:,} ({r['people']:,} x {r['photos_per_person']}) | {r['search']['p50_ms']:.2f} / "
            f"{r['search']['p99_ms']:.2f} | {r['person_vectors']['p50_ms']:.2f} / {r['person_vectors']['p99_ms']:.2f} "
            f"| {r['candidate_people_mean']:.0f} |"
        )
    note = (
        f"; {bench['search_faces']} faces per search, {bench['queries']} queries, {bench['date']}, {bench['machine']}"
    )
    return "\n".join(rows) + "\n" + source("person_scores_benchmark.json", extra=note)


def alignment(name: str) -> str:
    """Dev people through the detector, each warp against the given crops, and the paired difference of the two."""
    bench = load(name)
    header = ["path", "dev AUC", "dev rank-1", "dev named right at FPIR 5%", "cosine to the crop's embedding"]
    rows = table_head(header)
    labels = {"given crops": "the given crops (what training sees)", "detected, box": "detected, `box` (before)",
              "detected, landmarks": "detected, `landmarks`"}  # fmt: skip
    for key, label in labels.items():
        r = bench["results"][key]
        cosine = f"{r['mean_cosine_to_crop']:.3f}" if "mean_cosine_to_crop" in r else "1"
        rows.append(
            f"| {label} | {r['dev_auc']:.4f} | {pct(r['dev_rank1'])} | {pct(r['dev_dir_at_fpir_0.05'])} | {cosine} |"
        )
    d = bench["landmarks_minus_box"]
    auc, rank1 = d["dev_auc"], d["dev_rank1"]
    rows.append(
        f"| `landmarks` - `box` (95% interval, people resampled) | {auc['difference']:+.4f} "
        f"({auc['low']:+.4f} to {auc['high']:+.4f}) | {100 * rank1['difference']:+.1f} "
        f"({100 * rank1['low']:+.1f} to {100 * rank1['high']:+.1f}) points | | |"
    )
    template = bench["landmark_template"]
    note = (
        f"; {bench['model_version']}, {bench['date']}; {bench['dev_photos']:,} dev photos; template from "
        f"{template['photos_with_a_face']:,} train-part photos"
    )
    return "\n".join(rows) + "\n" + source(name, extra=note)


def alignment_test() -> str:
    """The default model's open-set answers through detection with each warp, on the same test galleries."""
    names = {"box": "open_set_benchmark_2026-12-04_box.json", "landmarks": OPEN_SET_2026_12_04}
    header = ["warp", "photos/person", "rank-1", "named right at FPIR 5%", "at default: strangers named / known right",
              "ECE"]  # fmt: skip
    rows = table_head(header)
    benches = {warp: load(name) for warp, name in names.items()}
    for key, warp, r in side_by_side(benches):
        rows.append(
            f"| `{warp}` | {key[0]} | {pct(r['rank1'])} | {pct(1 - r['fnir_at_fpir_0.05'])} | "
            f"{pct(r['strangers_named'])} / {pct(r['known_named_correctly'])} | {ece(r)} |"
        )
    note = f"; {benches['landmarks']['model_version']}, {benches['landmarks']['date']}; photos through detection"
    return "\n".join(rows) + "\n" + source(*names.values(), extra=note)


def reliability_results() -> str:
    r = load("reliability.json")["results"]
    rows = ["| scenario | result |", "|---|---|"]
    if "schemathesis" in r:
        s = r["schemathesis"]
        cases = s.get("report", {}).get("test_cases", {})
        counted = f"{cases['generated']:,} cases, {cases['with_failures']} with a server error, " if cases else ""
        rows.append(f"| schemathesis (all phases, stateful links) | {counted}exit code {s['exit_code']} "
                    f"({s['seconds'] / 60:.0f} min) |")  # fmt: skip
    if "uploads" in r:
        for case, u in r["uploads"].items():
            rows.append(f"| 1 GB upload, {case} | HTTP {u['status']}, {u['server_disk_bytes_written']:,} bytes "
                        f"written to disk, +{u['server_rss_growth_mb']:.0f} MB memory |")  # fmt: skip
    if "concurrent" in r:
        c = r["concurrent"]
        rows.append(f"| {c['requests']:,} enrolments, {c['concurrency']} at once | {c['created']:,} created, "
                    f"{c['records']:,} records |")  # fmt: skip
    if "kill" in r:
        k = r["kill"]
        refused = sum(k["photos_refused_for_their_content"].values())
        once = "yes" if k["every_person_exactly_once"] else "NO"
        rows.append(f"| SIGKILL mid-batch ({k['people_in_folder']} photos; at {k['people_when_killed']} enrolled), "
                    f"restart, rerun | "
                    f"{k['people_enrolled']} people enrolled, faces per person {k['faces_per_person']}, "
                    f"{refused} photos refused for their content; everyone exactly once: {once} |")  # fmt: skip
    if "outages" in r:
        for backend, o in r["outages"].items():
            rows.append(f"| {backend} down, then back | {o['during']} during (ready {o['ready_during']}), "
                        f"{o['after']} after (ready {o['ready_after']}) |")  # fmt: skip
    if "soak" in r:
        s = r["soak"]
        rows.append(f"| soak: {s['rate_per_s']:g} recognitions/s for {s['seconds'] / 60:.0f} min | "
                    f"{s['requests']:,} requests, {s['errors']} errors, p50 {s['latency_p50_ms']} ms, "
                    f"memory {100 * s['rss_growth_after_settling']:+.1f}% after settling |")  # fmt: skip
    data = load("reliability.json")
    return "\n".join(rows) + "\n" + source("reliability.json", extra=f"; {data['date']}, {data['model']}")
