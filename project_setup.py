"""Find (or download) LFW, verify it, write .env, and optionally upload the dataset to S3.

python project_setup.py                         # uses ../shared/lfw/lfw-deepfunneled when present
python project_setup.py --lfw-dir /data/lfw-deepfunneled
python project_setup.py --upload                # also copies LFW to s3://$S3_BUCKET/$LFW_S3_PREFIX
python project_setup.py --teacher               # also precompute the dlib teacher's descriptors (~4 min, once)
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tarfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

from facerec.train.data import DatasetError, verify_lfw

ROOT = Path(__file__).resolve().parent
LFW_URL = "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
SHARED_LFW = ROOT.parent / "shared" / "lfw" / "lfw-deepfunneled"
DOWNLOAD_DIR = ROOT / "data"


def reachable(url: str, timeout_s: float = 5.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 80), timeout=timeout_s):
            return True
    except OSError:
        return False


def download_lfw(url: str = LFW_URL, target: Path = DOWNLOAD_DIR) -> Path:
    """Download and extract the official archive into ``target``; returns the extracted folder."""
    folder = target / "lfw-deepfunneled"
    if folder.is_dir():
        return folder
    if not reachable(url):
        raise DatasetError(
            f"LFW is not on this machine and {urlparse(url).hostname} cannot be reached. Download {url} elsewhere, "
            "extract it, and run: python project_setup.py --lfw-dir <path to lfw-deepfunneled>"
        )
    target.mkdir(parents=True, exist_ok=True)
    archive = target / "lfw-deepfunneled.tgz"
    print(f"downloading {url} (about 100 MB) ...", flush=True)
    urllib.request.urlretrieve(url, archive)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    return folder


def find_lfw(lfw_dir: str | None) -> Path:
    if lfw_dir:
        return Path(lfw_dir)
    if os.environ.get("LFW_DIR"):
        return Path(os.environ["LFW_DIR"])
    if SHARED_LFW.is_dir():
        return SHARED_LFW
    return download_lfw()


def write_env(env_path: Path, example_path: Path, updates: dict[str, str]) -> list[str]:
    """Create or complete ``env_path`` from the example. Values already set in ``env_path`` are never changed;
    ``updates`` fill keys that are missing or empty. Returns the keys written."""
    existing = dotenv_values(env_path) if env_path.exists() else {}
    lines = env_path.read_text().splitlines() if env_path.exists() else []
    written: list[str] = []
    if not lines:
        lines = example_path.read_text().splitlines()
        existing = {}
    present = {line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.lstrip().startswith("#")}
    example_keys = [
        line.split("=", 1)[0].strip()
        for line in example_path.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    ]
    for key in example_keys:
        if key not in present:
            lines.append(f"{key}={dotenv_values(example_path).get(key) or ''}")
            present.add(key)
    for key, value in updates.items():
        if existing.get(key):
            continue
        for i, line in enumerate(lines):
            if line.split("=", 1)[0].strip() == key and not line.lstrip().startswith("#"):
                lines[i] = f"{key}={value}"
                break
        else:
            lines.append(f"{key}={value}")
        written.append(key)
    env_path.write_text("\n".join(lines) + "\n")
    return written


def upload(folder: Path) -> str:
    from facerec.storage import S3Config, ensure_bucket, upload_folder

    config = S3Config()
    if not config.bucket:
        raise SystemExit(
            "--upload needs S3_BUCKET (and S3_ENDPOINT_URL / AWS_* keys for MinIO) in .env or the environment"
        )
    prefix = os.environ.get("LFW_S3_PREFIX") or "datasets/lfw-deepfunneled"
    uri = f"s3://{config.bucket}/{prefix}"
    ensure_bucket(config, config.bucket)
    print(f"uploading {folder} to {uri} ...", flush=True)
    count = upload_folder(config, folder, uri, progress=True)
    print(f"uploaded {count:,} files; train from S3 with: python metaflow_train.py run --dataset {uri}")
    return uri


def precompute_teacher(people: dict[str, list[str]]) -> None:
    """The dlib teacher's descriptors of the default split's training people, cached for the training flow.

    About 4 minutes on 2 cores, once per dataset; without them the flow computes them from its training budget.
    """
    from facerec.train.data import split_people
    from facerec.train.teacher import teacher_descriptors

    teacher_descriptors(people, split_people(people).train)


SAMPLE_PEOPLE, SAMPLE_STRANGERS = 5, 2


def write_sample_faces(people: dict[str, list[str]], folder: Path = ROOT / "sample-faces") -> list[str]:
    """The demo's photos, by a rule fixed before any result was seen: the first five people of the default split's
    test part (name order) with at least two photos — their first photo to enrol, their second to recognise — and
    the first two single-image people of the test part, to be told apart as strangers. Returns the files written."""
    import shutil

    from facerec.train.data import split_people

    split = split_people(people)
    chosen = [name for name in split.test if len(people[name]) >= 2][:SAMPLE_PEOPLE]
    strangers = split.singles_test[:SAMPLE_STRANGERS]
    for sub in ("index", "recognize"):
        for old in (folder / sub).glob("*.jpg"):
            old.unlink()
        (folder / sub).mkdir(parents=True, exist_ok=True)
    written = []
    for name in chosen:
        first, second = sorted(people[name])[:2]
        written.append(shutil.copy(first, folder / "index" / f"{name}.jpg"))
        written.append(shutil.copy(second, folder / "recognize" / Path(second).name))
    for name in strangers:
        written.append(shutil.copy(people[name][0], folder / "recognize" / Path(people[name][0]).name))
    return [str(p) for p in written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw-dir", help="an extracted lfw-deepfunneled folder")
    parser.add_argument("--upload", action="store_true", help="copy the dataset to s3://$S3_BUCKET/$LFW_S3_PREFIX")
    parser.add_argument(
        "--teacher",
        action="store_true",
        help="precompute the dlib teacher's descriptors of the training people (else the flow computes them from "
        "its training budget)",
    )
    parser.add_argument(
        "--sample-faces", action="store_true", help="write sample-faces/ from LFW by the demo's fixed rule"
    )
    parser.add_argument("--env-file", default=str(ROOT / ".env"), help="the .env file to create or complete")
    args = parser.parse_args(argv)
    env_path = Path(args.env_file)
    # values in .env apply to this run too (the environment wins)
    for key, value in (dotenv_values(env_path) if env_path.exists() else {}).items():
        if value and not os.environ.get(key):
            os.environ[key] = value
    try:
        folder = find_lfw(args.lfw_dir).resolve()
        people = verify_lfw(folder)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_images = sum(len(v) for v in people.values())
    print(f"LFW OK: {folder} ({n_images:,} images, {len(people):,} people)")
    written = write_env(env_path, ROOT / ".env.example", {"LFW_DIR": str(folder)})
    print(f"{env_path}: " + (f"set {', '.join(written)}" if written else "kept your values"))
    override = dotenv_values(env_path).get("UNKNOWN_THRESHOLD")
    if override:  # .env files written before the example left it empty carry 0.5
        print(
            f"note: UNKNOWN_THRESHOLD={override} in {env_path} replaces the model's own threshold (chosen on dev "
            "people so that about 1% of strangers are named); leave it empty to use the model's",
            file=sys.stderr,
        )
    if args.teacher:
        try:
            precompute_teacher(people)
        except Exception as exc:  # the flow can still compute them; say why not here
            print(f"warning: teacher descriptors not precomputed: {exc}", file=sys.stderr)
    if args.sample_faces:
        print("\n".join(write_sample_faces(people)))
    if args.upload:
        try:
            upload(folder)
        except Exception as exc:  # report any S3 failure as one line, not a traceback
            print(f"error: upload failed: {exc}", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
