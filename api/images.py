"""The photo of a request, however it came: a multipart upload, or JSON with ``image_url`` or ``image_base64``.

The JSON form is the original design's contract (``{"image_url": ..., "image_format": "jpg", "name": ...}``), so
clients written for it work unchanged; the URL is fetched by :class:`facerec.serve.fetch.ImageFetcher`, which
refuses the server's own network. Either way the bytes go through the same decoder with the same limits.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import HTTPException, Request
from PIL import Image
from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.datastructures import FormData, UploadFile

from facerec.serve.fetch import ImageFetcher, ImageFetchError
from facerec.serve.images import ImageError, decode_image

from .service import Service


class ImageJSON(BaseModel):
    """The JSON request body: exactly one of ``image_url`` and ``image_base64``."""

    image_url: str | None = Field(None, max_length=4096, description="http(s) URL the server fetches the photo from")
    image_base64: str | None = Field(None, description="the photo's bytes, base64-encoded")
    image_format: Literal["jpg", "jpeg", "png", "webp"] | None = Field(
        None, description="informational: the format is read from the bytes"
    )
    name: str | None = Field(None, description="the person's name (/index only)")

    @model_validator(mode="after")
    def _one_source(self) -> ImageJSON:
        if (self.image_url is None) == (self.image_base64 is None):
            raise ValueError("send exactly one of image_url and image_base64")
        return self


# a real face (one of sample-faces/, 160 px): the schema's example reaches the recognition code, not just the decoder
EXAMPLE_FACE = base64.b64encode((Path(__file__).with_name("example_face.jpg")).read_bytes()).decode()


def request_body(with_name: bool) -> dict:
    """OpenAPI for a route that takes both forms (FastAPI cannot declare two bodies itself)."""
    example = {"image_base64": EXAMPLE_FACE, "image_format": "jpg"} | ({"name": "Tom Ridge"} if with_name else {})
    form = {
        "type": "object",
        "properties": {"image": {"type": "string", "format": "binary"}},
        "required": ["image"],
    }
    if with_name:
        form["properties"]["name"] = {"type": "string", "minLength": 1}
        form["required"].append("name")
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": ImageJSON.model_json_schema(), "example": example},
            },
        }
    }


@dataclass
class RequestImage:
    data: bytes  # as sent: decode with :func:`decode` (after cheaper checks, such as the name's)
    name: str | None


async def read_request_image(request: Request, service: Service, field: str = "image") -> RequestImage:
    """The request's photo bytes and its ``name`` field, if any."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = service.settings.limits.upload_bytes
    if content_type == "application/json":
        try:
            payload = ImageJSON.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            raise HTTPException(422, problems) from exc
        data = await _json_image(payload, service)
        name = payload.name
    elif content_type == "multipart/form-data":
        form = await request.form(max_files=2, max_fields=8)
        data = await _uploaded(form, field, limit)
        name = form.get("name") if isinstance(form.get("name"), str) else None
    else:
        raise HTTPException(
            415, "send the photo as multipart/form-data (field 'image') or as JSON with image_url or image_base64"
        )
    return RequestImage(data, name)


async def decode(data: bytes, service: Service, field: str) -> Image.Image:
    limit = service.settings.limits.upload_bytes
    try:
        return await service.run(decode_image, data, limit, service.settings.limits.image_pixels)
    except ImageError as exc:
        raise HTTPException(413 if len(data) > limit else 422, f"{field}: {exc}") from exc


async def _uploaded(form: FormData, field: str, limit: int) -> bytes:
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, f"{field}: a file is required (multipart field {field!r})")
    return await upload.read(limit + 1)


async def _json_image(payload: ImageJSON, service: Service) -> bytes:
    limit = service.settings.limits.upload_bytes
    if payload.image_base64 is not None:
        if len(payload.image_base64) > limit * 4 // 3 + 8:
            raise HTTPException(413, f"image_base64 holds more than the limit of {limit:,} bytes")
        try:
            return base64.b64decode(payload.image_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HTTPException(422, "image_base64 is not valid base64") from exc
    settings = service.settings
    fetcher = ImageFetcher(
        limit,
        settings.fetch.timeout_s,
        settings.fetch.max_redirects,
        settings.allow_private_image_urls,
        settings.fetch.allowed_networks,
    )
    try:
        return await fetcher.fetch(payload.image_url)
    except ImageFetchError as exc:
        raise HTTPException(422, str(exc)) from exc
