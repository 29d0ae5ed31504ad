"""Open-set answers as the gallery grows past the calibrator's simulations: does P still hold with more people?

    python bench/gallery_scale_benchmark.py --model FacialRecognitionTrainFlow/latest

The open-set calibrator is fitted on dev galleries of 10-300 people (the dev part holds 336), and takes the gallery
size as evidence: how it extrapolates to the thousands of people a deployment enrols is otherwise unmeasured. Here
the test galleries of ``bench/open_set_benchmark.py`` (every test person with 1 or 3 photos, through the served
runtime and index, ``detect=false`` on the dataset's crops: what the calibrator was fitted on) grow by distractors,
people who are enrolled but never probed: dev people (their first photos) and dev singles, in one seeded order.
The probes stay the same (the test people's other photos and the test strangers), so only the gallery changes.
Distractors come from the dev part because train people are what the encoder learned from and the cohort is drawn
from train singles; no test person or stranger is ever a distractor.

Reported per gallery size: rank-1, named right at FPIR 5%, and at the model's default threshold the strangers named,
known named right and wrongly, the open-set ECE (interval over people) and the mean P of known probes and strangers.
Writes bench/results/gallery_scale_benchmark.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402

from bench.open_set_benchmark import decide, enrol_gallery, served_faces, served_recognizer  # noqa: E402
from bench.reporting import environment, write_report  # noqa: E402
from facerec.index.embedded import EmbeddedIndex  # noqa: E402
from facerec.train.openset import identification_report  # noqa: E402

KEYS = ["people", "rank1", "fnir_at_fpir_0.05", "strangers_named", "known_named_correctly", "known_named_wrongly",
        "ece_15_bins", "mean_probability_known", "mean_probability_strangers"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="FacialRecognitionTrainFlow/latest")
    lfw = os.environ.get("LFW_DIR") or str(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    parser.add_argument("--dataset", default=lfw)
    parser.add_argument("--distractors", type=int, nargs="+", default=[0, 150, 500, 1149],
                        help="distractor people added to the test gallery (dev people and dev singles)")  # fmt: skip
    parser.add_argument("--photos", type=int, nargs="+", default=[1, 3], help="photos per test person")
    parser.add_argument("--seed", type=int, default=0, help="the order distractors are drawn in")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gallery_scale_benchmark.json"))
    args = parser.parse_args()

    started = time.monotonic()
    people, recognizer, work = served_recognizer(args.model, args.dataset, "facerec-scale-")
    split = recognizer.bundle.split
    names, strangers = split.test, split.singles_test
    pool = [str(n) for n in np.random.RandomState(args.seed).permutation(sorted(split.dev + split.singles_dev))]
    most = max(args.distractors)
    if most > len(pool):
        parser.error(f"--distractors {most}: the dev part holds {len(pool)} people")
    photos_of = [p for n in names + strangers for p in people[n]]
    photos_of += [p for n in pool[:most] for p in people[n][: max(args.photos)]]  # all a distractor enrols
    print(f"embedding {len(photos_of):,} photos (crops, served runtime) ...", flush=True)
    faces = served_faces(recognizer, photos_of, detect=False)
    threshold = recognizer.default_threshold
    report: dict = {
        **environment(),
        "model": args.model,
        "model_version": recognizer.model_version,
        "path": "served runtime and embedded index, the dataset's crops (detect=false)",
        "threshold": threshold,
        "test_people": len(names),
        "test_strangers": len(strangers),
        "distractor_pool": {"dev_people": len(split.dev), "dev_singles": len(split.singles_dev)},
        "results": {},
    }
    for photos in args.photos:
        rows = []
        for count in sorted(args.distractors):
            recognizer.index = EmbeddedIndex(
                work / f"{photos}-{count}.sqlite3", recognizer.bundle.encoder.config.embedding_dim,
                recognizer.model_version,
            )  # fmt: skip
            recognizer.index.connect()
            enrolled, _ = enrol_gallery(recognizer, people, names, photos, faces)
            extra, _ = enrol_gallery(recognizer, people, pool[:count], photos, faces, need_probes=False)
            probes = [(p, n) for n in enrolled for p in people[n][photos:]]
            probes += [(p, None) for n in strangers for p in people[n]]
            decisions = decide(recognizer, probes, faces)["open_set"]
            entry = identification_report(decisions, threshold)
            entry.pop("reliability")
            row = {"distractors": len(extra), "people": len(enrolled) + len(extra), "test_people": len(enrolled),
                   **entry}  # fmt: skip
            rows.append(row)
            print(photos, {k: round(row[k], 3) for k in KEYS}, flush=True)
            recognizer.index.close()
        report["results"][f"{photos}_photos"] = rows
    report["seconds"] = round(time.monotonic() - started, 1)
    print(f"written to {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
