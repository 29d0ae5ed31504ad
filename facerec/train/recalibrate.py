"""Refit a bundle's calibrators without retraining its encoder: new calibration code, or calibration on what the
service sees (photos through the detector) instead of the dataset's crops.

    python -m facerec.train.recalibrate --model FacialRecognitionTrainFlow/latest --out models/recalibrated
    python -m facerec.train.recalibrate --model <bundle> --out <folder> --detect     # dev photos through MTCNN

    python -m facerec.train.recalibrate --model <bundle> --out <folder> --extra-sizes 224  # another test input

Only dev people, dev strangers and the train-part cohort are read (the bundle's own split), so the test people stay
unseen. The weights do not change, so neither does the model version (indexes built with the bundle stay valid),
unless ``--extra-sizes`` changes the test input: the vectors change, and so does the version. The new bundle's
metrics.json records what was refitted, on what, and the previous open-set fit; its test figures are the old input's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

from ..model.bundle import ModelBundle, load_bundle
from ..model.preprocess import load_rgb, parse_sizes
from .calibrate import cohort_names, fit_calibrators
from .data import images_of, resolve_dataset, scan_people
from .evaluation import embed_paths


def embed_detected(bundle: ModelBundle, paths: Sequence[str], log: Callable[[str], None] = print) -> dict:
    """Each photo through the service's detector and alignment (its largest face, as /recognize answers first);
    photos where no face is found are left out."""
    from ..serve.detection import FaceDetector
    from ..serve.errors import RecognitionError
    from ..serve.settings import DetectionSettings

    detector = FaceDetector.from_settings(DetectionSettings(), runtime="onnx", threads=os.cpu_count() or 1)
    embeddings = {}
    for i, path in enumerate(paths, 1):
        try:
            faces = detector.detect(load_rgb(path))
        except RecognitionError:
            faces = []
        if faces:
            embeddings[path] = bundle.embed_crops([faces[0].crop])[0].numpy()
        if i % 500 == 0:
            log(f"  {i:,}/{len(paths):,} photos, {len(embeddings):,} with a face")
    return embeddings


def recalibrate(bundle: ModelBundle, dataset: str, detect: bool, log: Callable[[str], None] = print) -> ModelBundle:
    """The bundle with both calibrators refitted on its dev part (``detect``: through the detector)."""
    people = scan_people(resolve_dataset(dataset))
    split = bundle.split
    names = split.dev + split.singles_dev + cohort_names(split, split.seed)
    paths = [item.path for item in images_of(people, names)]
    started = time.monotonic()
    log(f"embedding {len(paths):,} dev and cohort photos ({'detected' if detect else 'crops'}) ...")
    embeddings = embed_detected(bundle, paths, log) if detect else embed_paths(bundle.encoder, bundle.preprocess, paths)
    fitted = fit_calibrators(embeddings, people, split, split.seed)
    previous = bundle.metrics.get("open_set_fit")
    bundle.calibrator, bundle.open_set, bundle.cohort = fitted.pair, fitted.open_set, fitted.cohort
    bundle.metrics = bundle.metrics | {
        "open_set_fit": fitted.report,
        "recalibrated": {
            "on": "dev photos through the detector" if detect else "dev crops",
            "photos": len(paths),
            "photos_with_a_face": len(embeddings),
            # the sizes the calibrators were fitted at; the bundle's test figures are those of its training run
            "test_input_sizes": list(bundle.preprocess.eval_image_sizes),
            "previous_open_set_fit": previous,
            "seconds": round(time.monotonic() - started, 1),
        },
    }
    log(f"open-set aggregate {fitted.report['chosen']}, default threshold {fitted.open_set.threshold:.3f}")
    return bundle


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle folder, s3:// URI or FacialRecognitionTrainFlow/<run>")
    parser.add_argument("--dataset", help="the dataset the bundle was trained on (default: the one its recipe names)")
    parser.add_argument("--detect", action="store_true", help="dev photos through the service's detector")
    parser.add_argument(
        "--extra-sizes", type=parse_sizes, help="test input sizes averaged with the main one ('none': one size)"
    )
    parser.add_argument("--out", required=True, help="folder to write the recalibrated bundle to")
    args = parser.parse_args(argv)
    bundle = load_bundle(args.model)
    if args.extra_sizes is not None and args.extra_sizes != bundle.preprocess.test_extra_sizes:
        try:
            bundle.preprocess = bundle.preprocess.with_extra_sizes(args.extra_sizes)
        except ValueError as exc:
            parser.error(str(exc))
        bundle.model_version = ""  # other vectors: saving names a new version
    dataset = args.dataset or bundle.metrics.get("train", {}).get("recipe", {}).get("dataset")
    if not dataset:
        parser.error("the bundle does not name its dataset: pass --dataset")
    bundle = recalibrate(bundle, dataset, args.detect)
    folder = bundle.save(args.out)
    print(f"written {folder} (model version {bundle.model_version})")


if __name__ == "__main__":
    sys.exit(main())
