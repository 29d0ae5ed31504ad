"""The long-lived objects behind the API: settings, model bundle, index, recognizer, and the inference executor."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import torch

from facerec.bundle import BundleError, load_bundle
from facerec.detection import FaceDetector
from facerec.index import IndexBackendError, create_index
from facerec.originals import OriginalsStore
from facerec.recognizer import Recognizer
from facerec.runtime import create_runtime
from facerec.settings import Settings
from facerec.storage import StorageError

logger = logging.getLogger("facerec.api")


class StartupError(RuntimeError):
    """The service cannot start; the message says what to fix."""


@dataclass
class Service:
    settings: Settings
    recognizer: Recognizer
    executor: ThreadPoolExecutor = field(repr=False)

    @classmethod
    def start(cls, settings: Settings) -> Service:
        """Load the bundle, connect the index, warm the detector; any failure is one StartupError."""
        workers = settings.inference_workers
        threads = settings.torch_threads or max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(threads)
        try:
            bundle = load_bundle(settings.model_uri, settings.s3())
        except BundleError as exc:
            raise StartupError(f"cannot load the model bundle from MODEL_URI={settings.model_uri!r}: {exc}") from exc
        index = create_index(settings, bundle.encoder.config.embedding_dim, bundle.model_version)
        try:
            index.connect()
        except IndexBackendError as exc:
            raise StartupError(str(exc)) from exc
        detector = FaceDetector.from_settings(settings, threads)
        try:
            detector.load()
            runtime = create_runtime(bundle.encoder, bundle.preprocess.image_size, settings.inference_runtime, threads)
        except Exception as exc:  # export and ONNX Runtime fail in many ways; each ends start-up with one line
            raise StartupError(f"cannot prepare the {settings.inference_runtime} models: {exc}") from exc
        originals = None
        if settings.originals_uri:
            try:
                originals = OriginalsStore(settings.s3(), settings.originals_uri)
                originals.connect()
            except (StorageError, ValueError) as exc:
                raise StartupError(f"cannot use ORIGINALS_URI={settings.originals_uri!r}: {exc}") from exc
        recognizer = Recognizer(bundle, index, detector, settings.keep_face_crops, runtime, originals)
        logger.info(
            "model %s loaded (%s runtime); %s index holds %d faces; %d inference workers x %d threads",
            bundle.model_version,
            runtime.name,
            settings.index_backend,
            index.count(),
            workers,
            threads,
        )
        # torch's thread count is per OS thread (OpenMP): set it in every worker, or each one runs single-threaded
        executor = ThreadPoolExecutor(
            workers, thread_name_prefix="inference", initializer=torch.set_num_threads, initargs=(threads,)
        )
        return cls(settings, recognizer, executor)

    async def run(self, fn, *args, **kwargs):
        """Run CPU-bound work off the event loop, on the inference executor."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.recognizer.index.close()
