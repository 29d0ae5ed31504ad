"""Everything a recognizer needs, built from the settings: the one way the API and reindex get theirs."""

from __future__ import annotations

import logging
import os

from ..index import FaceIndex, IndexBackendError
from ..model.bundle import BundleError, load_bundle
from ..model.runtime import create_runtime
from ..storage import StorageError
from .detection import FaceDetector
from .originals import OriginalsStore
from .recognizer import Recognizer
from .settings import Settings

logger = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The recognizer cannot be built; the message says what to fix."""


def create_index(settings: Settings, dim: int, model_version: str) -> FaceIndex:
    """The backend named by ``INDEX_BACKEND``, not yet connected."""
    if settings.index.backend == "embedded":
        from ..index.embedded import EmbeddedIndex

        cfg = settings.index
        return EmbeddedIndex(cfg.path, dim, model_version, cfg.ivf_min_vectors, cfg.ivf_nprobe)
    from ..index.elastic import ElasticsearchIndex

    es = settings.es
    return ElasticsearchIndex(
        es.url,
        es.index,
        dim,
        num_candidates=es.num_candidates,
        username=es.username,
        password=es.password.get_secret_value() if es.password else None,
        verify_certs=es.verify_certs,
    )


def build_recognizer(settings: Settings) -> Recognizer:
    """Load the bundle, connect the index (and the originals store), prepare detector and encoder runtime.

    Any failure is one :class:`StartupError` naming the setting to fix.
    """
    threads = settings.inference.threads_per_worker(os.cpu_count() or 1)
    try:
        bundle = load_bundle(settings.model_uri, settings.s3)
    except BundleError as exc:
        raise StartupError(f"cannot load the model bundle from MODEL_URI={settings.model_uri!r}: {exc}") from exc
    index = create_index(settings, bundle.encoder.config.embedding_dim, bundle.model_version)
    try:
        index.connect()
    except IndexBackendError as exc:
        raise StartupError(str(exc)) from exc
    detector = FaceDetector.from_settings(settings.detection, settings.inference.runtime, threads)
    try:
        detector.load()
        runtime = create_runtime(
            bundle.encoder, bundle.preprocess.eval_image_sizes, settings.inference.runtime, threads
        )
    except Exception as exc:  # export and ONNX Runtime fail in many ways; each ends start-up with one line
        raise StartupError(f"cannot prepare the {settings.inference.runtime} models: {exc}") from exc
    originals = None
    if settings.originals_uri:
        try:
            originals = OriginalsStore(settings.s3, settings.originals_uri)
            originals.connect()
        except (StorageError, ValueError) as exc:
            raise StartupError(f"cannot use ORIGINALS_URI={settings.originals_uri!r}: {exc}") from exc
    if settings.stranger_share is not None and not (bundle.open_set and bundle.open_set.restatable):
        logger.warning(
            "STRANGER_SHARE=%s is ignored: this model's calibrator was fitted as one map and cannot restate its "
            "probabilities (recalibrate it: python -m facerec.train.recalibrate)",
            settings.stranger_share,
        )
    logger.info(
        "model %s loaded (%s runtime); %s index holds %d faces",
        bundle.model_version,
        runtime.name,
        settings.index.backend,
        index.count(),
    )
    return Recognizer(
        bundle,
        index,
        detector,
        settings.keep_face_crops,
        runtime,
        originals,
        settings.detection.main_face_margin,
        settings.quality.rules(),
        settings.stranger_share,
    )
