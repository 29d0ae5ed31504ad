"""The distillation teacher measured on our protocol: dlib's ResNet descriptor on the test people and strangers.

    python bench/teacher_eval.py

Same split, pairs and open-set galleries as the flow's evaluation (test people never trained on by the student;
dlib's author reports keeping LFW's identities out of its training data). The descriptors come from the teacher's
cache (computed when missing: ~4 minutes per 5,000 images on 2 cores), on LFW's centred crops with a fixed face box
(dlib aligns the face itself from its 5 landmarks). The pair calibrator is fitted on dev pairs, as for our models.
Writes bench/results/teacher_eval.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.train.calibrate import fit_isotonic  # noqa: E402
from facerec.train.data import images_of, scan_people, split_people  # noqa: E402
from facerec.train.evaluation import build_pairs, evaluate_test, pair_similarities  # noqa: E402
from facerec.train.teacher import TEACHER_ID, teacher_embeddings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    lfw = os.environ.get("LFW_DIR") or str(ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled")
    parser.add_argument("--dataset", default=lfw)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "teacher_eval.json"))
    args = parser.parse_args()
    people = scan_people(args.dataset)
    split = split_people(people)
    paths = [item.path for item in images_of(people, split.dev + split.test + split.singles_test)]
    embeddings = dict(zip(paths, teacher_embeddings(paths), strict=True))
    dev_pairs = build_pairs(people, split.dev, seed=split.seed)
    calibrator = fit_isotonic(pair_similarities(embeddings, dev_pairs), dev_pairs.labels)
    metrics = evaluate_test(embeddings, people, split.test, split.singles_test, calibrator, split.seed)
    report = {
        **environment(),
        "teacher": TEACHER_ID,
        "test_people": len(split.test),
        "test_strangers": len(split.singles_test),
        "test": {k: v for k, v in metrics.items() if k != "reliability"},
    }
    out = write_report(report, args.out)
    shown = ["verification_accuracy", "roc_auc", "tar_at_far_1e-3", "open_set_rank1", "open_set_known_vs_unknown_auc"]
    print({k: round(report["test"][k], 4) for k in shown})
    print(f"written to {out}")


if __name__ == "__main__":
    main()
