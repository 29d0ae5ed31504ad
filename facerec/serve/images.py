"""Decoding untrusted uploads into RGB images, refusing what is not a sane still photo.

Accepted: JPEG (MPO, the multi-picture JPEG some cameras write, counts as JPEG: its first picture), PNG and WebP,
still images only. Everything is checked from the header before a pixel is decoded. Thread-safe: no global state
is touched per call (the service decodes on several threads).
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

# the one list: code, error messages and docs all say this
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
ACCEPTED_DESCRIPTION = "JPEG, PNG or WebP (still images)"
MIN_SIDE = 16  # pixels: nothing smaller holds a face worth embedding
MAX_ASPECT_RATIO = 20  # longer side / shorter side: a strip is not a photo


class ImageError(ValueError):
    """The upload is not an acceptable image; the message says why (shown to the client)."""


def decode_image(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Bytes -> an upright RGB image. EXIF orientation applied; grayscale, palette, CMYK and alpha converted."""
    if not data:
        raise ImageError("the uploaded file is empty")
    if len(data) > max_bytes:
        raise ImageError(f"the image is {len(data):,} bytes; the limit is {max_bytes:,}")
    try:
        image = Image.open(io.BytesIO(data))
        kind = ACCEPTED_FORMATS.get(image.format or "")
        if kind is None:
            raise ImageError(f"unsupported image format {image.format}; send {ACCEPTED_DESCRIPTION}")
        if kind != "JPEG" and getattr(image, "is_animated", False):
            raise ImageError(f"animated images are not accepted; send {ACCEPTED_DESCRIPTION}")
        width, height = image.size
        # check the header's size before decoding a single pixel: a small file can claim gigapixels
        if width * height > max_pixels:
            raise ImageError(f"the image is {width}x{height} pixels; the limit is {max_pixels:,} pixels")
        if min(width, height) < MIN_SIDE:
            raise ImageError(f"the image is {width}x{height} pixels; both sides must be at least {MIN_SIDE}")
        if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
            raise ImageError(f"the image is {width}x{height} pixels: a strip, not a photo (aspect ratio over 20:1)")
        image.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard, for headers claiming gigapixels
        raise ImageError(f"the image claims more than the limit of {max_pixels:,} pixels") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"not a readable image; send {ACCEPTED_DESCRIPTION}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or corrupt data
        raise ImageError("the image is truncated or corrupt") from exc
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
