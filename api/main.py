"""The FastAPI application: `uvicorn api.main:app` or `python -m api`."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from facerec.index import IndexBackendError
from facerec.serve.recognizer import RecognitionError, StaleIndexError
from facerec.serve.settings import Settings
from facerec.storage import StorageError

from .routes import faces, health, model
from .service import Service

logger = logging.getLogger("facerec.api")


@dataclass
class Telemetry:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    faces_indexed: Gauge

    @classmethod
    def create(cls) -> Telemetry:
        registry = CollectorRegistry()
        return cls(
            registry,
            Counter("facerec_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry),
            Histogram(
                "facerec_request_seconds",
                "HTTP request latency",
                ["route"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            Gauge("facerec_faces_indexed", "faces in the index", registry=registry),
        )


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """An app that loads its service at start-up (or uses ``service``, already started)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = service is None
        app.state.service = service or Service.start(settings or Settings())
        try:
            yield
        finally:
            if owned:
                app.state.service.close()

    app = FastAPI(
        title="facerec",
        version="0.1.0",
        description="Enrol faces and recognise people the encoder never trained on, with calibrated probabilities.",
        lifespan=lifespan,
    )
    app.state.telemetry = telemetry = Telemetry.create()
    app.include_router(health.router)
    app.include_router(faces.router)
    app.include_router(model.router)

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            telemetry.requests.labels(request.method, path, str(status)).inc()
            telemetry.latency.labels(path).observe(time.perf_counter() - started)

    # what the pipeline raises, answered in one shape: the client's fault (422), a model change (409), a backend (503)
    def answer(status: int):
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"error": True, "msg": str(exc)}, status_code=status)

        return handler

    app.add_exception_handler(RecognitionError, answer(422))
    app.add_exception_handler(StaleIndexError, answer(409))
    app.add_exception_handler(IndexBackendError, answer(503))
    app.add_exception_handler(StorageError, answer(503))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": True, "msg": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": True, "msg": problems}, status_code=422)

    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory api.main:app_factory`."""
    return create_app()


app = create_app()
