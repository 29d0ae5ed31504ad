"""The long-lived objects behind the API: settings, the recognizer, and the inference executor."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import torch

from facerec.serve.build import build_recognizer
from facerec.serve.recognizer import Recognizer
from facerec.serve.settings import Settings

logger = logging.getLogger("facerec.api")


@dataclass
class Service:
    settings: Settings
    recognizer: Recognizer
    executor: ThreadPoolExecutor = field(repr=False)

    @classmethod
    def start(cls, settings: Settings) -> Service:
        """Build the recognizer (any failure is one StartupError) and the inference executor."""
        workers = settings.inference.workers
        threads = settings.inference.threads_per_worker(os.cpu_count() or 1)
        torch.set_num_threads(threads)
        recognizer = build_recognizer(settings)
        logger.info("%d inference workers x %d threads", workers, threads)
        # torch's thread count is per OS thread (OpenMP): set it in every worker, or each one runs single-threaded
        executor = ThreadPoolExecutor(
            workers, thread_name_prefix="inference", initializer=torch.set_num_threads, initargs=(threads,)
        )
        return cls(settings, recognizer, executor)

    def recognition_threshold(self, requested: float | None = None) -> float:
        """The request's threshold, else UNKNOWN_THRESHOLD, else the model's own default."""
        for threshold in (requested, self.settings.unknown_threshold, self.recognizer.default_threshold):
            if threshold is not None:
                return threshold
        raise AssertionError("the recognizer always has a default threshold")

    async def run(self, fn, *args, **kwargs):
        """Run CPU-bound work off the event loop, on the inference executor."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.recognizer.index.close()
