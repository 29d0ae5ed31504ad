"""Decoding untrusted uploads: one accepted-format list, odd sizes refused with a reason, safe on many threads."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from facerec.serve.detection import FaceDetector
from facerec.serve.errors import RecognitionError
from facerec.serve.images import ACCEPTED_DESCRIPTION, ImageError, decode_image
from facerec.testing.synthetic import synthetic_face

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


def encode(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def test_accepted_formats_decode_to_rgb():
    face = synthetic_face(1)
    for fmt in ("JPEG", "PNG", "WEBP"):
        assert decode_image(encode(face, fmt), **LIMITS).mode == "RGB"
    rgba = face.convert("RGBA")
    assert decode_image(encode(rgba, "PNG"), **LIMITS).size == (250, 250)
    assert decode_image(encode(face.convert("P"), "PNG"), **LIMITS).mode == "RGB"
    # MPO: the multi-picture JPEG of some cameras; its first picture is the photo
    mpo = encode(face, "MPO", save_all=True, append_images=[synthetic_face(2)])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"
    assert decode_image(mpo, **LIMITS).size == (250, 250)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_other_formats_are_refused_with_the_accepted_list(fmt):
    with pytest.raises(ImageError, match=re.escape(f"unsupported image format {fmt}; send {ACCEPTED_DESCRIPTION}")):
        decode_image(encode(synthetic_face(1).resize((64, 64)), fmt), **LIMITS)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_are_refused(fmt):
    frames = [synthetic_face(1), synthetic_face(2)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(ImageError, match="animated images are not accepted"):
        decode_image(data, **LIMITS)


@pytest.mark.parametrize(
    ("size", "message"),
    [((1, 1), "at least 16"), ((500, 1), "at least 16"), ((15, 400), "at least 16"), ((2000, 40), "strip")],
)
def test_tiny_images_and_strips_are_refused_with_their_size(size, message):
    with pytest.raises(ImageError, match=rf"{size[0]}x{size[1]} pixels.*{message}"):
        decode_image(encode(Image.new("RGB", size, (90, 90, 90)), "PNG"), **LIMITS)


def test_images_too_small_for_the_detector_are_a_client_error_not_a_crash():
    detector = FaceDetector(min_face_size=40, max_side=1024)
    with pytest.raises(RecognitionError, match="too small to hold a face of 40 pixels"):
        detector.detect(Image.new("RGB", (30, 300)))
    # a wide photo shrunk to the detection size can fall below the minimum too
    with pytest.raises(RecognitionError, match="after downscaling to 1024"):
        detector.detect(Image.new("RGB", (10_000, 300)))


def test_truncated_garbage_and_bombs_are_refused_without_echoing_internals():
    data = encode(synthetic_face(1), "JPEG")
    cases = {
        b"": "empty",
        data[: len(data) // 2]: "truncated or corrupt",
        b"GIF89a" + b"\x00" * 40: "not a readable image",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40: "not a readable image",
    }
    for payload, message in cases.items():
        with pytest.raises(ImageError, match=message) as caught:
            decode_image(payload, **LIMITS)
        assert "0x" not in str(caught.value) and "BytesIO" not in str(caught.value)


def test_decoding_is_safe_on_many_threads():
    good = encode(synthetic_face(1), "JPEG")
    big = encode(Image.new("RGB", (8000, 6000)), "PNG")  # 48 M pixels: over the limit, refused from its header

    def decode(i: int) -> str:
        try:
            return decode_image(good if i % 2 else big, **LIMITS).mode
        except ImageError as exc:
            return str(exc)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(decode, range(64)))
    assert answers[1::2] == ["RGB"] * 32
    assert all("limit is 40,000,000 pixels" in a for a in answers[::2])
