"""Decoding untrusted uploads into RGB images, refusing what is not a sane image."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "MPO"}


class ImageError(ValueError):
    """The upload is not an acceptable image; the message says why (shown to the client)."""


def decode_image(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Bytes -> an upright RGB image. EXIF orientation applied; grayscale, palette, CMYK and alpha converted."""
    if not data:
        raise ImageError("the uploaded file is empty")
    if len(data) > max_bytes:
        raise ImageError(f"the image is {len(data):,} bytes; the limit is {max_bytes:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageError(f"unsupported image format {image.format}; send JPEG, PNG or WebP")
            width, height = image.size
            # check the header's size before decoding a single pixel: a small file can claim gigapixels
            if width * height > max_pixels:
                raise ImageError(f"the image is {width}x{height} pixels; the limit is {max_pixels:,} pixels")
            image.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"not a readable image: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageError(f"the image is truncated or corrupt: {exc}") from exc
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def downscale(image: Image.Image, max_side: int) -> tuple[Image.Image, float]:
    """Shrink so the longer side is at most ``max_side``; returns the image and the factor applied (<= 1)."""
    longest = max(image.size)
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.BILINEAR), scale
