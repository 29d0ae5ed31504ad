"""How fast the default recipe's training loop runs on each device this machine has (CPU, a CUDA GPU), and whether a
model trained on the GPU comes back ready to serve from the CPU.

    python bench/train_device_benchmark.py [--steps 60] [--workers 0 8] [--devices cpu cuda] [--out X.json]

The loop is the flow's (``facerec.train.training.train``) with the default ``TrainConfig`` (triplet + relational
distillation + the teacher-centre classifier, weight average, P x K batches of 32, 160 px), on the default encoder
(Lite0, 300-d) without its ImageNet weights, which do not change the speed. The images are synthetic LFW-shaped
250 px JPEGs (``facerec.testing.synthetic``) and the teacher's descriptors synthetic unit vectors around one centre
per person: the speed of decoding, augmenting and training on a 250 px JPEG does not depend on what it shows, and
LFW itself may not travel to a GPU machine. Dev is measured once, when the steps end, and is not timed
(``TrainResult.train_seconds``). After each run the encoder, back on the CPU, embeds the dev photos through ONNX
Runtime (the served graph), as the flow's later steps do.
Writes the JSON named by --out (machine, date, torch and GPU inside).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reporting import environment, write_report  # noqa: E402
from facerec.model.encoder import EncoderConfig, FaceEncoder  # noqa: E402
from facerec.model.preprocess import PreprocessConfig  # noqa: E402
from facerec.testing.synthetic import write_synthetic_dataset  # noqa: E402
from facerec.train.config import TrainConfig  # noqa: E402
from facerec.train.data import images_of, scan_people  # noqa: E402
from facerec.train.evaluation import DevProtocol, embed_paths  # noqa: E402
from facerec.train.training import train  # noqa: E402

TRAIN_PEOPLE, DEV_PEOPLE, PHOTOS, STRANGERS = 120, 24, 8, 24
TEACHER_DIM = 128


def synthetic_teacher(people: dict[str, list[str]], names: list[str]) -> dict[str, np.ndarray]:
    """One random unit centre per person, each photo's descriptor a noisy copy of it."""
    rng = np.random.RandomState(0)
    teacher = {}
    for name in names:
        centre = rng.normal(size=TEACHER_DIM)
        for path in people[name]:
            vector = centre + 0.5 * rng.normal(size=TEACHER_DIM)
            teacher[path] = (vector / np.linalg.norm(vector)).astype(np.float32)
    return teacher


def measure(device: str, workers: int, steps: int, folder: Path) -> dict:
    people = scan_people(folder)
    names = sorted(n for n in people if len(people[n]) > 1)
    train_names, dev_names = names[:TRAIN_PEOPLE], names[TRAIN_PEOPLE:]
    strangers = sorted(n for n in people if len(people[n]) == 1)
    dev = DevProtocol.build(people, dev_names, strangers, seed=0)
    config = TrainConfig(device=device, num_workers=workers, max_steps=steps, epochs=1000, evals_per_epoch=0)
    torch.manual_seed(0)
    encoder = FaceEncoder(EncoderConfig(), pretrained="none")
    preprocess = PreprocessConfig()
    started = time.monotonic()
    result = train(
        encoder, people, train_names, dev, preprocess, config, progress=False,
        teacher=synthetic_teacher(people, train_names),
    )  # fmt: skip
    wall = time.monotonic() - started
    returned_on = next(encoder.parameters()).device.type
    dev_paths = [item.path for item in images_of(people, dev_names)]
    t0 = time.monotonic()
    served = embed_paths(encoder, preprocess, dev_paths)  # ONNX Runtime on the CPU, as the flow's evaluate step
    return {
        "device": result.device,
        "num_workers": workers,
        "steps": result.steps,
        "batch_size": config.batch_size,
        "images_per_second": round(result.images_per_second, 1),
        "train_seconds": round(result.train_seconds, 1),
        "wall_seconds_with_dev": round(wall, 1),
        "encoder_returned_on": returned_on,
        "served_embeddings": len(served),
        "served_embedding_norm": round(float(np.mean([np.linalg.norm(v) for v in served.values()])), 4),
        "serve_embed_seconds": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 8], help="data-loader workers to try")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="skipped where absent")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_device_benchmark.json"))
    args = parser.parse_args()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_synthetic_dataset(Path(tmp) / "faces", TRAIN_PEOPLE + DEV_PEOPLE, PHOTOS, singles=STRANGERS)
        for device in args.devices:
            if device == "cuda" and gpu is None:
                print("no CUDA GPU here: cuda not measured")
                continue
            for workers in args.workers:
                run = measure(device, workers, args.steps, folder)
                print(run, flush=True)
                runs.append(run)
    report = {
        **environment(),
        "gpu": gpu,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "data": f"synthetic: {TRAIN_PEOPLE} training people x {PHOTOS} photos, 250 px JPEG",
        "runs": runs,
    }
    print("wrote", write_report(report, args.out))


if __name__ == "__main__":
    main()
