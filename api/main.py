"""The FastAPI application: `uvicorn api.main:app` or `python -m api`."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from facerec.serve.settings import Settings

from .errors import install_error_handlers
from .guard import Guard
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
    if service is not None:
        settings = service.settings
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = service is None
        app.state.service = service or Service.start(settings)
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
    # the guard sits outside the routes: keys, rate and size are checked before a body is read
    app.add_middleware(Guard)

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

    origins = settings.origins
    if origins:  # outermost: a browser's preflight is answered before the key check
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
        )

    install_error_handlers(app)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory api.main:app_factory`."""
    return create_app()


app = create_app()
