"""How the service warps a detected face into the encoder's crop, measured on dev people only.

    python bench/alignment_benchmark.py --model FacialRecognitionTrainFlow/<run>

The encoder learns from LFW's deep-funneled crops; the service sees MTCNN detections warped into a crop of the same
geometry (facerec/serve/detection.py). Two warps:

* ``box``: the face box scaled to LFW's mean box side and centred at LFW's mean box centre, eyes level (the default
  until this benchmark);
* ``landmarks``: the similarity transform that puts MTCNN's five landmarks closest to their mean position in LFW's
  crops (:data:`facerec.serve.detection.LFW_LANDMARKS`).

Step 1 measures that template: MTCNN on every train-part person's first photo (LFW photos are the crops themselves,
so landmarks come in the crop's frame), the face nearest the centre, the mean of each landmark. Step 2 sends every
dev photo (dev people and dev strangers) through MTCNN once and warps its largest face both ways; step 3 embeds
them with the bundle's served runtime next to the given crops (what training and the flow's dev figures see) and
reports per path: dev AUC of the dev pairs, rank-1 and named right at FPIR 5% with one photo per dev person enrolled
and dev strangers among the probes (the flow's dev protocol), and the mean cosine between a photo's detected and
crop embeddings. A photo where MTCNN finds no face keeps its crop embedding on every path (counted).
Writes bench/results/alignment_benchmark.json.
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
import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from bench.reporting import bundle_people, environment, write_report  # noqa: E402
from facerec.model.bundle import load_bundle  # noqa: E402
from facerec.model.preprocess import load_rgb, preprocess_views  # noqa: E402
from facerec.model.runtime import create_runtime  # noqa: E402
from facerec.serve.detection import ALIGNMENTS, CROP_SIZE, LFW_LANDMARKS, FaceDetector, align_face  # noqa: E402
from facerec.serve.settings import DetectionSettings  # noqa: E402
from facerec.train.evaluation import DevProtocol, pair_similarities  # noqa: E402


def landmark_template(detector: FaceDetector, paths: list[str]) -> dict:
    """The mean MTCNN landmarks of the face nearest each crop's centre, in the crop's frame."""
    found = []
    for path in paths:
        faces = [face for face in detector.detect(load_rgb(path)) if face.landmarks]
        if faces:
            nearest = min(faces, key=lambda f: np.hypot((f.box[0] + f.box[2] - CROP_SIZE) / 2,
                                                      (f.box[1] + f.box[3] - CROP_SIZE) / 2))  # fmt: skip
            found.append(nearest.landmarks)
    points = np.asarray(found, dtype=np.float64)
    return {
        "photos": len(paths),
        "photos_with_a_face": len(found),
        "mean": points.mean(axis=0).round(1).tolist(),
        "sd": points.std(axis=0).round(1).tolist(),
    }


def embed_images(engine, cfg, images: list) -> np.ndarray:
    out = []
    for start in range(0, len(images), 64):
        out.append(engine.embed_views(preprocess_views(images[start : start + 64], cfg)))
    return np.concatenate(out)


def per_item(protocol: DevProtocol, embeddings: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each dev pair's similarity, and whether each known probe's best gallery photo is its person's."""
    gallery, labels, probes, identities = protocol.galleries[0]
    similarities = np.stack([embeddings[p] for p in probes]) @ np.stack([embeddings[p] for p in gallery]).T
    best = similarities.argmax(axis=1)
    known = [i for i, name in enumerate(identities) if name is not None]
    hits = np.array([labels[best[i]] == identities[i] for i in known])
    return pair_similarities(embeddings, protocol.pairs), hits


def paired_difference(protocol: DevProtocol, before: dict, after: dict, rounds: int = 1000, seed: int = 0) -> dict:
    """``after`` minus ``before`` in dev AUC and rank-1, with a 95% bootstrap interval that resamples dev people
    (a pair belongs to its first photo's person): both paths are measured on the same photos, so the interval is
    that of the difference, much narrower than either figure's own."""
    pair_people = np.array([Path(p).parent.name for p, _ in protocol.pairs.pairs])
    _, _, _, identities = protocol.galleries[0]
    probe_people = np.array([name for name in identities if name is not None])
    (pairs_a, hits_a), (pairs_b, hits_b) = per_item(protocol, before), per_item(protocol, after)
    labels = protocol.pairs.labels
    names = np.unique(pair_people)
    by_pairs = {n: np.flatnonzero(pair_people == n) for n in names}
    by_probes = {n: np.flatnonzero(probe_people == n) for n in names}
    rng = np.random.RandomState(seed)
    auc, rank1 = [], []
    for _ in range(rounds):
        drawn = rng.choice(names, len(names))
        pairs = np.concatenate([by_pairs[n] for n in drawn])
        probes = np.concatenate([by_probes[n] for n in drawn])
        if labels[pairs].all() or not labels[pairs].any():
            continue
        auc.append(roc_auc_score(labels[pairs], pairs_b[pairs]) - roc_auc_score(labels[pairs], pairs_a[pairs]))
        rank1.append(hits_b[probes].mean() - hits_a[probes].mean())

    def summary(values: list[float], point: float) -> dict:
        low, high = np.percentile(values, [2.5, 97.5])
        return {"difference": float(point), "low": float(low), "high": float(high)}

    point_auc = roc_auc_score(labels, pairs_b) - roc_auc_score(labels, pairs_a)
    return {"dev_auc": summary(auc, point_auc), "dev_rank1": summary(rank1, hits_b.mean() - hits_a.mean()),
            "rounds": len(auc)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="FacialRecognitionTrainFlow/latest")
    parser.add_argument("--dataset", help="default: the dataset the bundle's recipe names")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "alignment_benchmark.json"))
    args = parser.parse_args()
    started = time.monotonic()
    torch.set_num_threads(os.cpu_count() or 1)

    bundle = load_bundle(args.model)
    people = bundle_people(bundle, args.dataset)
    split = bundle.split
    detector = FaceDetector.from_settings(DetectionSettings(), runtime="onnx", threads=os.cpu_count() or 1)

    print("measuring the landmark template on the train part ...", flush=True)
    template = landmark_template(detector, [sorted(people[name])[0] for name in split.train])
    print(template, flush=True)
    measured = np.array(template["mean"])

    protocol = DevProtocol.build(people, split.dev, split.singles_dev, seed=split.seed)
    paths = protocol.paths
    print(f"detecting {len(paths):,} dev photos ...", flush=True)
    crops, warped = [], {name: [] for name in ALIGNMENTS}
    missing = 0
    for path in paths:
        image = load_rgb(path)
        crops.append(image)
        faces = [face for face in detector.detect(image) if face.landmarks]
        if not faces:
            missing += 1
            for name in ALIGNMENTS:
                warped[name].append(image)
            continue
        largest = faces[0]  # the detector sorts largest first: the face /recognize answers first
        for name in ALIGNMENTS:
            warped[name].append(
                align_face(image, np.array(largest.box), np.array(largest.landmarks), name, template=measured)
            )

    engine = create_runtime(bundle.encoder, bundle.preprocess.eval_image_sizes, "onnx", threads=os.cpu_count() or 1)
    crop_vectors = embed_images(engine, bundle.preprocess, crops)
    results = {"given crops": protocol.scores(dict(zip(paths, crop_vectors, strict=True)))}
    embedded = {}
    for name in ALIGNMENTS:
        vectors = embed_images(engine, bundle.preprocess, warped[name])
        embedded[name] = dict(zip(paths, vectors, strict=True))
        cosines = np.sum(vectors * crop_vectors, axis=1)
        results[f"detected, {name}"] = protocol.scores(embedded[name]) | {
            "mean_cosine_to_crop": float(cosines.mean()),
            "cosine_to_crop_se": float(cosines.std(ddof=1) / np.sqrt(len(cosines))),
        }
        print(name, results[f"detected, {name}"], flush=True)
    difference = paired_difference(protocol, embedded["box"], embedded["landmarks"])
    print("landmarks - box", difference, flush=True)
    report = {
        **environment(),
        "model": args.model,
        "model_version": bundle.model_version,
        "landmark_template": template,
        "template_served": LFW_LANDMARKS.tolist(),
        "landmarks_minus_box": difference,
        "dev_photos": len(paths),
        "dev_photos_without_a_face": missing,
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"written to {write_report(report, args.out)}")


if __name__ == "__main__":
    main()
