"""Every failure in one shape: ``{"error": true, "msg": ..., "request_id": ...}``.

4xx messages tell the client what to change. 5xx messages are generic and carry the request id; the details (which
may name hosts, buckets or paths) go to the log under the same id, for the operator.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from facerec.index import IndexBackendError
from facerec.serve.errors import RecognitionError, StaleIndexError
from facerec.serve.images import ImageError
from facerec.storage import StorageError

logger = logging.getLogger("facerec.api")


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "-")


def error(request: Request, status: int, msg: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": True, "msg": msg, "request_id": request_id(request)}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    async def client_error(request: Request, exc: Exception) -> JSONResponse:
        return error(request, 422, str(exc))

    async def stale_index(request: Request, exc: Exception) -> JSONResponse:
        return error(request, 409, str(exc))

    async def backend_down(request: Request, exc: Exception) -> JSONResponse:
        what = "the face index" if isinstance(exc, IndexBackendError) else "S3 storage"
        logger.error("request %s: %s unavailable: %s", request_id(request), what, exc)
        return error(request, 503, f"{what} is unavailable; try again later (request id {request_id(request)})")

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"no route {request.url.path}; see /docs"
        elif exc.status_code == 405:
            msg = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return error(request, exc.status_code, msg, getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors())
        return error(request, 422, problems)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request %s failed", request_id(request), exc_info=exc)
        return error(request, 500, f"internal error (request id {request_id(request)}); the operator's log has it")

    app.add_exception_handler(RecognitionError, client_error)
    app.add_exception_handler(ImageError, client_error)
    app.add_exception_handler(StaleIndexError, stale_index)
    app.add_exception_handler(IndexBackendError, backend_down)
    app.add_exception_handler(StorageError, backend_down)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)
