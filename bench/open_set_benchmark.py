"""Open-set identification through the serving path: the Recognizer itself on the test people and test strangers.

    python bench/open_set_benchmark.py --model FacialRecognitionTrainFlow/latest
    python bench/open_set_benchmark.py --model <bundle> --max-people 40      # a quick look

Every test photo goes through what the service does: decoding, MTCNN detection and alignment (``detect=true``; and
once more as the given crop, ``detect=false``, to show what detection costs), the served ONNX encoder, enrolment with
the service's rules (``face=main``, the quality gate) into an embedded index. Galleries enrol each test person with
1, 2 and 3 photos (their first ones, where they have more); probes are their other photos and every photo of the test
strangers (single-image people of the test part). Two rules answer on the same galleries:

* ``pair`` — before: the best single face names the probe, with the pair calibrator's P(same person);
* ``open_set`` — the served rule: people, not faces, and the open-set calibrator's P(the named person is right).

Reported per gallery, FRVT 1:N style: FNIR at FPIR 0.01 / 0.05 / 0.1, rank-1, and at each rule's default threshold
the strangers named, known named correctly / wrongly, open-set ECE; the dlib teacher on the same galleries (its
descriptors of the given crops) is the reference row. Also: how many test photos each quality rule refuses.
Writes bench/results/open_set_benchmark.json and docs/open_set_det.png, docs/open_set_reliability.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

import numpy as np  # noqa: E402

from bench.reporting import environment, write_report  # noqa: E402
from facerec.index import FaceRecord  # noqa: E402
from facerec.index.embedded import EmbeddedIndex  # noqa: E402
from facerec.model.preprocess import load_rgb  # noqa: E402
from facerec.serve.build import build_recognizer  # noqa: E402
from facerec.serve.errors import RecognitionError  # noqa: E402
from facerec.serve.quality import measure  # noqa: E402
from facerec.serve.recognizer import UNKNOWN, Recognizer, crop_to_jpeg  # noqa: E402
from facerec.serve.settings import Settings  # noqa: E402
from facerec.train.data import resolve_dataset, scan_people  # noqa: E402
from facerec.train.metrics import FPIR_LEVELS, fnir_at_fpir  # noqa: E402
from facerec.train.openset import Decisions, answers_at, det_curve, identification_report  # noqa: E402

KEYS = ["rank1", "fnir_at_fpir_0.01", "fnir_at_fpir_0.05", "fnir_at_fpir_0.1", "strangers_named",
        "known_named_correctly", "known_named_wrongly", "ece_15_bins"]  # fmt: skip


def served_faces(recognizer: Recognizer, paths: list[str], detect: bool) -> dict:
    """Each photo's faces, largest first, and the served embedding of the largest (what /recognize answers first)."""
    found = {}
    for i, path in enumerate(paths, 1):
        try:
            faces = recognizer.find_faces(load_rgb(path), detect)
        except RecognitionError:
            faces = []
        if faces:
            found[path] = (faces, recognizer.embed_faces(faces[:1])[0])
        if i % 500 == 0:
            print(f"  {i:,}/{len(paths):,} photos ({'detected' if detect else 'crops'})", flush=True)
    return found


def enrol_gallery(
    recognizer: Recognizer, people, names, photos: int, faces, need_probes: bool = True
) -> tuple[dict[str, int], dict]:
    """Enrol each person's first ``photos`` photos (where they have more, unless ``need_probes`` is off: a
    distractor needs no photo left to probe with) with the service's rules; returns the faces enrolled per person
    and why the refused ones were refused."""
    enrolled: dict[str, int] = {}
    refused: dict[str, int] = {}
    for name in names:
        if need_probes and len(people[name]) <= photos:
            continue
        for path in people[name][:photos]:
            if path not in faces:
                refused["no face found"] = refused.get("no face found", 0) + 1
                continue
            detected, vector = faces[path]
            try:  # what index_people.sh asks for: the clearly largest face of a photo with several
                recognizer.face_choice(detected, "main")
            except RecognitionError:
                reason = "several faces, none clearly the main one"
                refused[reason] = refused.get(reason, 0) + 1
                continue
            face = detected[0]
            problems = recognizer.quality_rules.problems(measure(face))
            if problems:
                reason = problems[0].split(" (")[0]
                refused[reason] = refused.get(reason, 0) + 1
                continue
            record = FaceRecord(name, vector, recognizer.model_version, crop_jpeg=crop_to_jpeg(face.crop))
            recognizer.index.add([record])
            enrolled[name] = enrolled.get(name, 0) + 1
    return enrolled, refused


def decide(recognizer: Recognizer, probes: list[tuple[str, str | None]], faces) -> dict[str, Decisions]:
    """Both rules for every probe (a photo with no face found is a probe nobody names)."""
    results: dict[str, dict[str, list]] = {
        r: {"best": [], "score": [], "correct": [], "tiebreak": []} for r in ("pair", "open_set")
    }
    known = []
    for path, identity in probes:
        known.append(identity is not None)
        if path not in faces:
            for rule in results.values():
                rule["best"].append(UNKNOWN)
                rule["score"].append(0.0)
                rule["tiebreak"].append(-1.0)
                rule["correct"].append(False)
            continue
        face, vector = faces[path][0][0], faces[path][1]
        (top_face,) = recognizer.index.search(vector[None], 1, recognizer.model_version)
        best_face = top_face[0]
        results["pair"]["best"].append(best_face.name)
        results["pair"]["score"].append(float(recognizer.bundle.calibrator(best_face.similarity)))
        results["pair"]["tiebreak"].append(best_face.similarity)
        results["pair"]["correct"].append(best_face.name == identity)
        (answer,) = recognizer.identify([face], vector[None], k=5, threshold=0.0)
        best = answer.candidates[0]
        results["open_set"]["best"].append(best.name)
        results["open_set"]["score"].append(best.probability)
        results["open_set"]["tiebreak"].append(best.similarity)
        results["open_set"]["correct"].append(best.name == identity)
    known_mask = np.array(known)
    identities = [identity for _, identity in probes]
    return {
        rule: Decisions(
            r["best"], np.array(r["score"]), np.array(r["correct"]), known_mask, np.array(r["tiebreak"]), identities
        )
        for rule, r in results.items()
    }


def teacher_reference(people, names, strangers, photos: int) -> dict:
    """dlib's ResNet (the distillation teacher) on the same galleries, its descriptors of the given crops; the best
    face's cosine is its score (it has no calibrator of ours), so only threshold-free figures are reported."""
    from facerec.model.calibration import IsotonicCalibrator
    from facerec.train.openset import build_gallery, pair_rule
    from facerec.train.teacher import teacher_embeddings

    paths = [p for n in list(names) + list(strangers) for p in people[n]]
    embeddings = dict(zip(paths, teacher_embeddings(paths), strict=True))
    gallery = build_gallery(embeddings, people, names, strangers, photos)
    decisions = pair_rule(gallery, IsotonicCalibrator(np.array([-1.0, 1.0]), np.array([0.0, 1.0])))
    known = decisions.known
    figures = {"rank1": float(decisions.correct[known].mean())}
    for level in FPIR_LEVELS:
        figures[f"fnir_at_fpir_{level:g}"] = fnir_at_fpir(
            decisions.score[known], decisions.correct[known], decisions.score[~known], level
        )[0]
    return figures


def served_recognizer(model: str, dataset: str, prefix: str) -> tuple[dict[str, list[str]], Recognizer, Path]:
    """The dataset's people, the recognizer the service would build for ``model`` (its own runtime and calibrators)
    and a scratch folder for the benchmark's indexes."""
    people = scan_people(resolve_dataset(dataset))
    work = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(_env_file=None, model_uri=model, index={"path": str(work / "warmup.sqlite3")})
    return people, build_recognizer(settings), work


def describe_calibration(recognizer: Recognizer) -> str:
    open_set = recognizer.bundle.open_set
    if open_set is None:
        return "pair (no open-set calibrator in the bundle)"
    if open_set.restatable:
        return f"open-set, two parts fitted at {open_set.stranger_share:.1%} strangers"
    return "open-set, one joint map"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="FacialRecognitionTrainFlow/latest")
    lfw = os.environ.get("LFW_DIR") or str(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    parser.add_argument("--dataset", default=lfw)
    parser.add_argument("--max-people", type=int, default=0, help="at most this many test people and strangers")
    parser.add_argument("--no-teacher", action="store_true", help="skip the dlib reference row")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "open_set_benchmark.json"))
    parser.add_argument("--plots", default=str(ROOT / "docs"), help="folder for the DET and reliability plots")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plots from --out's JSON, run nothing")
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads(Path(args.out).read_text()), Path(args.plots))
        return

    started = time.monotonic()
    people, recognizer, work = served_recognizer(args.model, args.dataset, "facerec-openset-")
    split = recognizer.bundle.split
    names, strangers = split.test, split.singles_test
    if args.max_people:
        names, strangers = names[: args.max_people], strangers[: args.max_people]
    photos_of = [p for n in names + strangers for p in people[n]]
    report: dict = {
        **environment(),
        "model": args.model,
        "model_version": recognizer.model_version,
        "calibration": describe_calibration(recognizer),
        "alignment": recognizer.detector.alignment,  # DETECTION_ALIGNMENT: how detected faces were warped
        "default_thresholds": {"pair": 0.5, "open_set": recognizer.default_threshold},
        "test_people": len(names),
        "test_strangers": len(strangers),
        "open_set_fit": recognizer.bundle.metrics.get("open_set_fit"),
        # set when the calibrators were refitted after training (python -m facerec.train.recalibrate)
        "recalibrated": recognizer.bundle.metrics.get("recalibrated"),
        "results": {},
    }
    for detect in (True, False):
        mode = "detected" if detect else "crops"
        print(f"embedding {len(photos_of):,} test photos through the served path ({mode}) ...", flush=True)
        faces = served_faces(recognizer, photos_of, detect)
        report["results"][mode] = {"photos_without_a_face": len(photos_of) - len(faces)}
        if detect:
            rules = recognizer.quality_rules
            qualities = [measure(detected[0]) for detected, _ in faces.values()]
            report["quality_refusals"] = {
                "photos": len(qualities),
                "min_size": sum(q.size < rules.min_size for q in qualities),
                "min_sharpness": sum(q.sharpness < rules.min_sharpness for q in qualities),
                "min_detection": sum(q.detection < rules.min_detection for q in qualities),
                "max_yaw": sum(q.yaw is not None and q.yaw > rules.max_yaw for q in qualities),
                "any": sum(bool(rules.problems(q)) for q in qualities),
            }
        for photos in (1, 2, 3):
            recognizer.index = EmbeddedIndex(
                work / f"{mode}-{photos}.sqlite3",
                recognizer.bundle.encoder.config.embedding_dim,
                recognizer.model_version,
            )
            recognizer.index.connect()
            enrolled, refused = enrol_gallery(recognizer, people, names, photos, faces)
            probes = [(p, n) for n in enrolled for p in people[n][photos:]]
            probes += [(p, None) for n in strangers for p in people[n]]
            decisions = decide(recognizer, probes, faces)
            thresholds = report["default_thresholds"]
            entry = {"people_enrolled": len(enrolled), "enrolment_refusals": refused}
            for rule, d in decisions.items():
                entry[rule] = identification_report(d, thresholds[rule]) | {"det": det_curve(d)}
            # the open-set answers at P >= 0.5, what .env.example's UNKNOWN_THRESHOLD=0.5 served until 2026-12-03
            entry["open_set"]["at_threshold_0.5"] = answers_at(decisions["open_set"], 0.5)
            open_set = recognizer.bundle.open_set
            if open_set is not None and open_set.restatable:
                # the same answers from a deployment that states its share of strangers (STRANGER_SHARE): this
                # gallery's own, a property of the protocol, not of any answer
                share = sum(identity is None for _, identity in probes) / len(probes)
                recognizer.stranger_share = share
                told = decide(recognizer, probes, faces)["open_set"]
                recognizer.stranger_share = None
                entry["open_set_told_share"] = {"stranger_share": share} | identification_report(
                    told, thresholds["open_set"]
                )
            report["results"][mode][f"{photos}_photos"] = entry
            print(mode, photos, {rule: {k: round(entry[rule][k], 3) for k in KEYS} for rule in decisions}, flush=True)
            recognizer.index.close()
    if not args.no_teacher:
        report["teacher_reference_crops"] = {
            f"{k}_photos": teacher_reference(people, names, strangers, k) for k in (1, 2, 3)
        }
    report["seconds"] = round(time.monotonic() - started, 1)
    out = write_report(report, args.out)
    plot(report, Path(args.plots))
    print_table(report)
    print(f"written to {out}")


def plot(report: dict, folder: Path) -> None:
    from facerec.train.plots import det_plot, reliability_diagram

    folder.mkdir(parents=True, exist_ok=True)
    detected = report["results"]["detected"]
    fig = det_plot({k: v for k, v in detected.items() if k.endswith("_photos")},
                   title=f"Open-set identification, served path ({report['test_people']} test people)")  # fmt: skip
    fig.savefig(folder / "open_set_det.png", dpi=110)
    one = detected["1_photos"]["open_set"]
    fig = reliability_diagram(
        one["reliability"],
        one["ece_15_bins"],
        title="Open-set answers on test people, 1 photo each",
        event="the named person is right",
        unit="probes",
    )
    fig.savefig(folder / "open_set_reliability.png", dpi=110)


def print_table(report: dict) -> None:
    print(f"\n{report['model_version']}  {report['machine']}  {report['date']}")
    print("| path | photos | rule | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 3) + "|")
    for mode, galleries in report["results"].items():
        for gallery, entry in galleries.items():
            if not gallery.endswith("_photos"):
                continue
            for rule in ("pair", "open_set"):
                values = " | ".join(f"{entry[rule][k]:.3f}" for k in KEYS)
                print(f"| {mode} | {gallery[0]} | {rule} | {values} |")


if __name__ == "__main__":
    main()
