"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@router.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def ready(request: Request):
    """The model is loaded, the index answers, and so does S3 when enrolled photos are kept there."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        return JSONResponse(ReadyResponse(status="starting").model_dump(), status_code=503)
    index = service.recognizer.index
    down = None
    if not await asyncio.to_thread(index.ping):
        down = f"the {service.settings.index.backend} index does not answer"
    elif service.recognizer.originals is not None and not await asyncio.to_thread(service.recognizer.originals.ping):
        down = "the S3 store of original photos (ORIGINALS_URI) does not answer"
    if down:
        return JSONResponse(ReadyResponse(status="unavailable", detail=down).model_dump(), status_code=503)
    return ReadyResponse(
        status="ready",
        model_version=service.recognizer.model_version,
        index_backend=service.settings.index.backend,
        faces=await service.run(index.count),
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    telemetry = request.app.state.telemetry
    service = getattr(request.app.state, "service", None)
    if service is not None:
        with contextlib.suppress(Exception):  # the metric keeps its last value while the index is down
            telemetry.faces_indexed.set(await service.run(service.recognizer.index.count))
    return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)
