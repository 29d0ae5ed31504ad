"""Dependencies: the service, upload reading and input validation."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import Depends, HTTPException, Request, UploadFile
from fastapi.security import APIKeyHeader
from PIL import Image

from .images import decode
from .service import Service


def get_service(request: Request) -> Service:
    service = getattr(request.app.state, "service", None)
    if service is None:
        raise HTTPException(503, "the service is starting")
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


# the key is checked by the guard middleware before the body is read (api/guard.py); this only documents it
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="one of API_KEY / API_KEYS")


def validate_name(raw: str, max_length: int) -> str:
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise HTTPException(422, "name is empty")
    if name in (".", ".."):  # URL paths normalise these away: such a person could never be deleted
        raise HTTPException(422, f"name {name!r} cannot be addressed in a URL; choose another")
    if len(name) > max_length:
        raise HTTPException(422, f"name is {len(name)} characters long; the limit is {max_length}")
    # control, unassigned, private-use and surrogate code points, and line/paragraph separators
    if any(unicodedata.category(c) in {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"} for c in name):
        raise HTTPException(422, "name contains control or non-printable characters")
    return name


async def read_image(upload: UploadFile, service: Service, field: str = "image") -> Image.Image:
    """Read an uploaded file within the size limit and decode it (off the event loop)."""
    return await decode(await upload.read(service.settings.limits.upload_bytes + 1), service, field)
