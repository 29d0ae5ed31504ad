"""The model bundle: one versioned folder holding everything needed to embed and calibrate, and nothing pickled.

Layout (format version 1)::

    bundle.json          format, model version, encoder + preprocessing config, sha256 of every other file
    weights.safetensors  encoder weights
    calibrator.json      pair calibrator: isotonic curve (cosine -> P(same person)) as two arrays
    split.json           the people per split part
    metrics.json         test metrics (and the training history)
    openset.json         optional: the open-set calibrator (evidence -> P(the named person is right))
    cohort.safetensors   optional, with openset.json: embeddings of faces of nobody enrolled (score normalisation)

Bundles without the open-set files (written before it existed) load and serve with the pair calibrator.

Sources accepted by :func:`load_bundle`: a local folder; ``s3://bucket/prefix/`` (a bundle folder);
``s3://bucket/.../latest.json`` (a manifest written by the flow); ``FlowName/<run id>`` or ``FlowName/latest``
(a Metaflow run, through the Metaflow client).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..storage import S3Config, StorageError, download_folder, get_json, parse_s3_uri, upload_folder
from ..storage import cache_root as storage_cache_root
from .calibration import IsotonicCalibrator
from .encoder import EncoderConfig, FaceEncoder
from .openset import OpenSetCalibrator
from .preprocess import PreprocessConfig, preprocess_views
from .runtime import TorchRuntime
from .split import PersonSplit

BUNDLE_FORMAT = "facerec-bundle"
BUNDLE_FORMAT_VERSION = 1
MANIFEST_NAME = "bundle.json"
_FILES = ("weights.safetensors", "calibrator.json", "split.json", "metrics.json")
COHORT = "cohort.safetensors"


class BundleError(RuntimeError):
    """The bundle is missing, corrupt, or of an unknown format."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_model_version(
    backbone: str, weights_sha256: str, run_id: str | None = None, preprocess: PreprocessConfig | None = None
) -> str:
    """``backbone-run-hash``: the hash is the weights' own, or, for bundles embedding at extra test input sizes,
    of the weights and the whole test input: the same weights at another input give other vectors, which an index
    built with the first must not take for its own."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = weights_sha256
    if preprocess is not None and preprocess.test_extra_sizes:
        digest = hashlib.sha256((weights_sha256 + json.dumps(preprocess.to_dict())).encode()).hexdigest()
    return f"{backbone.split('.')[0]}-{run_id or stamp}-{digest[:8]}"


@dataclass
class ModelBundle:
    encoder: FaceEncoder
    preprocess: PreprocessConfig
    calibrator: IsotonicCalibrator
    split: PersonSplit
    metrics: dict = field(default_factory=dict)
    open_set: OpenSetCalibrator | None = None
    cohort: np.ndarray | None = None
    model_version: str = ""
    created_at: str = ""
    run_id: str | None = None

    def save(self, folder: str | Path) -> Path:
        """Write the bundle into ``folder`` (created); fills in ``model_version`` when empty."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.encoder.state_dict().items()}
        save_file(state, str(folder / "weights.safetensors"))
        (folder / "calibrator.json").write_text(json.dumps(self.calibrator.to_dict()))
        (folder / "split.json").write_text(self.split.to_json())
        (folder / "metrics.json").write_text(json.dumps(self.metrics, indent=1, default=float))
        files = list(_FILES)
        if self.open_set is not None:
            if self.cohort is None:
                raise BundleError("an open-set calibrator needs its cohort embeddings")
            (folder / "openset.json").write_text(json.dumps(self.open_set.to_dict()))
            save_file({"cohort": torch.from_numpy(np.ascontiguousarray(self.cohort, np.float32))}, str(folder / COHORT))
            files += ["openset.json", COHORT]
        hashes = {name: _sha256(folder / name) for name in files}
        if not self.model_version:
            self.model_version = make_model_version(
                self.encoder.config.backbone, hashes["weights.safetensors"], self.run_id, self.preprocess
            )
        self.created_at = self.created_at or datetime.now(UTC).isoformat(timespec="seconds")
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "model_version": self.model_version,
            "created_at": self.created_at,
            "run_id": self.run_id,
            "encoder": self.encoder.config.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "files": hashes,
        }
        (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        """Load a bundle folder, checking the format and every file's checksum."""
        folder = Path(folder)
        manifest_path = folder / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BundleError(f"no {MANIFEST_NAME} in {folder}: not a model bundle")
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"{manifest_path} is not valid JSON") from exc
        if manifest.get("format") != BUNDLE_FORMAT or manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
            raise BundleError(
                f"{folder} is format {manifest.get('format')!r} v{manifest.get('format_version')}; "
                f"this code reads {BUNDLE_FORMAT!r} v{BUNDLE_FORMAT_VERSION}"
            )
        for name, expected in manifest.get("files", {}).items():
            path = folder / name
            if not path.is_file():
                raise BundleError(f"bundle file missing: {path}")
            if _sha256(path) != expected:
                raise BundleError(f"bundle file corrupt (sha256 mismatch): {path}")
        try:
            encoder = FaceEncoder(EncoderConfig.from_dict(manifest["encoder"]), pretrained="none")
            encoder.load_state_dict(load_file(str(folder / "weights.safetensors")))
            encoder.eval()
            open_set = cohort = None
            if "openset.json" in manifest["files"]:
                open_set = OpenSetCalibrator.from_dict(json.loads((folder / "openset.json").read_text()))
                cohort = load_file(str(folder / COHORT))["cohort"].numpy()
            return cls(
                encoder=encoder,
                preprocess=PreprocessConfig.from_dict(manifest["preprocess"]),
                calibrator=IsotonicCalibrator.from_dict(json.loads((folder / "calibrator.json").read_text())),
                split=PersonSplit.from_json((folder / "split.json").read_text()),
                metrics=json.loads((folder / "metrics.json").read_text()),
                model_version=manifest["model_version"],
                created_at=manifest.get("created_at", ""),
                run_id=manifest.get("run_id"),
                open_set=open_set,
                cohort=cohort,
            )
        except (KeyError, ValueError, RuntimeError, OSError) as exc:
            raise BundleError(f"cannot load bundle {folder}: {exc}") from exc

    def embed_crops(self, crops: list) -> torch.Tensor:
        """Face crops (PIL images) -> L2-normalised embeddings with torch, exactly as evaluated (every test input
        size)."""
        return torch.from_numpy(TorchRuntime(self.encoder).embed_views(preprocess_views(crops, self.preprocess)))


# --- publishing and locating bundles -------------------------------------------------------------------------------

LATEST_MANIFEST = "latest.json"


def models_prefix(bucket: str) -> str:
    return f"s3://{bucket}/models"


def publish_to_s3(folder: str | Path, bucket: str, run_id: str, config: S3Config, extra: dict | None = None) -> dict:
    """Upload a saved bundle to ``s3://bucket/models/<run_id>/`` and point ``s3://bucket/models/latest.json`` at it."""
    from ..storage import ensure_bucket, put_json

    manifest = json.loads((Path(folder) / MANIFEST_NAME).read_text())
    prefix = f"{models_prefix(bucket)}/{run_id}/"
    ensure_bucket(config, bucket)
    upload_folder(config, folder, prefix)
    latest = {
        "bundle_uri": prefix,
        "run_id": run_id,
        "model_version": manifest["model_version"],
        "created_at": manifest["created_at"],
        **(extra or {}),
    }
    put_json(config, f"{models_prefix(bucket)}/{LATEST_MANIFEST}", latest)
    return latest


def _cache_dir(cache_root: str | Path | None, key: str) -> Path:
    return storage_cache_root(cache_root) / "bundles" / re.sub(r"[^A-Za-z0-9._-]+", "_", key)


def resolve_bundle(uri: str, s3: S3Config | None = None, cache_root: str | Path | None = None) -> Path:
    """Turn any accepted bundle source into a local bundle folder (downloading when needed)."""
    s3 = s3 or S3Config()
    if uri.startswith("s3://"):
        if uri.endswith(".json"):
            try:
                uri = get_json(s3, uri)["bundle_uri"]
            except KeyError as exc:
                raise BundleError(f"{uri} is not a model manifest (no bundle_uri)") from exc
        parse_s3_uri(uri)
        target = _cache_dir(cache_root, uri)
        if not (target / MANIFEST_NAME).is_file():
            partial = target.with_name(target.name + ".partial")
            try:
                download_folder(s3, uri, partial)
            except StorageError as exc:
                raise BundleError(f"cannot fetch the model bundle: {exc}") from exc
            target.parent.mkdir(parents=True, exist_ok=True)
            partial.replace(target)
        return target
    match = re.fullmatch(r"(?:metaflow://)?([A-Za-z_][A-Za-z0-9_]*Flow)/([\w-]+)", uri)
    if match and not Path(uri).exists():
        return _from_metaflow(match[1], match[2], cache_root)
    path = Path(uri)
    if not path.exists():
        raise BundleError(f"model bundle not found: {uri}")
    return path


def _from_metaflow(flow_name: str, run_id: str, cache_root: str | Path | None) -> Path:
    if os.environ.get("USER", "root") == "root":  # Metaflow refuses root / no user, even to read
        os.environ.setdefault("METAFLOW_USER", "facerec")
    from metaflow import Flow, Run, namespace

    namespace(None)
    try:
        run = Flow(flow_name).latest_successful_run if run_id == "latest" else Run(f"{flow_name}/{run_id}")
    except Exception as exc:  # metaflow raises its own exception types for unknown flows and runs
        raise BundleError(f"no Metaflow run {flow_name}/{run_id}: {exc}") from exc
    if run is None:
        raise BundleError(f"{flow_name} has no successful run")
    try:
        files: dict[str, bytes] = run["publish"].task.data.bundle_files
    except Exception as exc:
        raise BundleError(f"Metaflow run {run.pathspec} has no published bundle: {exc}") from exc
    target = _cache_dir(cache_root, f"metaflow-{run.pathspec}")
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / Path(name).name).write_bytes(data)
    return target


def load_bundle(uri: str, s3: S3Config | None = None, cache_root: str | Path | None = None) -> ModelBundle:
    return ModelBundle.load(resolve_bundle(uri, s3, cache_root))


def bundle_files(folder: str | Path) -> dict[str, bytes]:
    """The bundle as {file name: bytes}, for storing in the Metaflow datastore."""
    folder = Path(folder)
    listed = json.loads((folder / MANIFEST_NAME).read_text())["files"]
    return {name: (folder / name).read_bytes() for name in (MANIFEST_NAME, *listed)}
