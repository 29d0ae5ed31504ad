"""Dependencies: the service, API-key check, upload reading and input validation."""

from __future__ import annotations

import secrets
import unicodedata
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, UploadFile
from PIL import Image

from facerec.serve.images import ImageError, decode_image

from .service import Service


def get_service(request: Request) -> Service:
    service = getattr(request.app.state, "service", None)
    if service is None:
        raise HTTPException(503, "the service is starting")
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def require_api_key(service: ServiceDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    expected = service.settings.api_key
    if expected is None:
        return
    if x_api_key is None or not secrets.compare_digest(x_api_key.encode(), expected.get_secret_value().encode()):
        raise HTTPException(401, "missing or wrong X-API-Key header")


def validate_name(raw: str, max_length: int) -> str:
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise HTTPException(422, "name is empty")
    if len(name) > max_length:
        raise HTTPException(422, f"name is {len(name)} characters long; the limit is {max_length}")
    # control, unassigned, private-use and surrogate code points, and line/paragraph separators
    if any(unicodedata.category(c) in {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"} for c in name):
        raise HTTPException(422, "name contains control or non-printable characters")
    return name


async def read_upload(upload: UploadFile, service: Service, field: str = "image") -> tuple[bytes, Image.Image]:
    """Read an upload within the size limit and decode it (off the event loop): its bytes and the image."""
    limit = service.settings.limits.upload_bytes
    data = await upload.read(limit + 1)
    try:
        return data, await service.run(decode_image, data, limit, service.settings.limits.image_pixels)
    except ImageError as exc:
        status = 413 if len(data) > limit else 422
        raise HTTPException(status, f"{field}: {exc}") from exc


async def read_image(upload: UploadFile, service: Service, field: str = "image") -> Image.Image:
    return (await read_upload(upload, service, field))[1]
