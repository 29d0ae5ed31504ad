"""The demo model as `make demo` makes it: how long it takes, its test metrics, and what it says about sample-faces/.

    python bench/demo_benchmark.py                 # trains it (the flow with DEMO_FLOW_ARGS), timed
    python bench/demo_benchmark.py --run-id 123    # reports a finished demo run (its recipe as the run stored it)
    python bench/demo_benchmark.py --out X.json -- --frozen_stages 2   # a candidate: the demo's arguments + these
    python bench/demo_benchmark.py --run-id 123 --samples-only --out Y.json   # only the sample answers, again

The sample faces are enrolled and recognised by the Recognizer itself (detection, the served runtime, an embedded
index, the model's default threshold), as `make demo` does through the API. Writes bench/results/demo_benchmark.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("METAFLOW_USER", "facerec")

from bench.reporting import FLOW, environment, finished_run, run_training_flow, write_report  # noqa: E402
from facerec.model.preprocess import load_rgb  # noqa: E402
from facerec.serve.build import build_recognizer  # noqa: E402
from facerec.serve.errors import RecognitionError  # noqa: E402
from facerec.serve.settings import Settings  # noqa: E402
from facerec.train.config import DEMO_FLOW_ARGS  # noqa: E402

SAMPLES = ROOT / "sample-faces"


def sample_answers(model_uri: str) -> dict:
    """Enrol sample-faces/index, recognise sample-faces/recognize, as the demo does."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, model_uri=model_uri, index={"path": f"{folder}/faces.sqlite3"})
        recognizer = build_recognizer(settings)
        enrolled = []
        for path in sorted((SAMPLES / "index").glob("*.jpg")):
            name = path.stem.replace("_", " ")
            try:
                recognizer.enroll(load_rgb(str(path)), name, face="main")
                enrolled.append(name)
            except RecognitionError as exc:
                print(f"not enrolled: {name}: {exc}")
        answers = []
        for path in sorted((SAMPLES / "recognize").glob("*.jpg")):
            truth = path.stem.rsplit("_", 1)[0].replace("_", " ")
            expected = truth if truth in enrolled else "unknown"
            (main, *_) = recognizer.recognize(load_rgb(str(path)), k=3)
            answers.append(
                {
                    "photo": path.name,
                    "expected": expected,
                    "answer": main.name,
                    "probability": round(main.probability, 3),
                    "right": main.name == expected,
                    "best_candidate": main.candidates[0].name if main.candidates else None,
                }
            )
        recognizer.index.close()
    return {
        "enrolled": enrolled,
        "threshold": recognizer.default_threshold,
        "alignment": recognizer.detector.alignment,  # DETECTION_ALIGNMENT the samples were detected with
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-id", help="report this finished demo run instead of training one")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "demo_benchmark.json"))
    parser.add_argument("flow_args", nargs="*", help="flow parameters after the demo's own (later ones win), after --")
    parser.add_argument(
        "--samples-only", action="store_true",
        help="with --run-id: answer sample-faces/ again with today's serving code (e.g. after a detection change)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.samples_only:
        if not args.run_id:
            parser.error("--samples-only needs --run-id")
        report = {**environment(), "run": f"{FLOW}/{args.run_id}", "samples": sample_answers(f"{FLOW}/{args.run_id}")}
        right = sum(a["right"] for a in report["samples"]["answers"])
        print(f"demo run {args.run_id}: {right}/{len(report['samples']['answers'])} sample photos answered right")
        print(f"written to {write_report(report, args.out)}")
        return
    flow_args = [*DEMO_FLOW_ARGS, *args.flow_args]
    wall = None
    run_id = args.run_id
    if run_id is None:
        run_id, wall = run_training_flow(flow_args)
    run, wall = finished_run(run_id, wall)
    data = run.data
    metrics = data.metrics
    report = {
        **environment(),
        "run": f"{FLOW}/{run_id}",
        # the arguments this script ran the flow with; a reported run's own are in its recipe, not in today's defaults
        "flow_args": flow_args if args.run_id is None else None,
        "recipe": data.recipe,
        "wall_time_s": wall,
        # where the minutes go: the training budget is what a recipe chooses, the rest is the flow's fixed work
        "step_seconds": {
            step.id: round((step.task.finished_at - step.task.created_at).total_seconds(), 1) for step in run
        },
        "train": {k: v for k, v in data.train_result.items() if k != "history"},
        # every dev evaluation, as train_benchmark.py keeps them: how far the selected one sits from its neighbours
        "dev_history": data.train_result["history"],
        "test": {k: v for k, v in metrics.items() if k not in ("reliability", "open_set", "open_set_fit")},
        "open_set_1_photo": {
            rule: {k: v for k, v in metrics["open_set"]["1_photos"][rule].items() if k not in ("det", "reliability")}
            for rule in ("pair", "open_set")
        },
        "samples": sample_answers(f"{FLOW}/{run_id}"),
    }
    out = write_report(report, args.out)
    right = sum(a["right"] for a in report["samples"]["answers"])
    print(f"demo run {run_id}: {wall / 60:.1f} min, test ROC AUC {metrics['roc_auc']:.4f}, "
          f"{right}/{len(report['samples']['answers'])} sample photos answered right")  # fmt: skip
    for answer in report["samples"]["answers"]:
        print(f"  {answer['photo']}: {answer['answer']} ({answer['probability']:.2f}), expected {answer['expected']}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
