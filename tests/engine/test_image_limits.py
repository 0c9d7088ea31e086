"""Issue 12 fixes 3 and 4: bounded outputs and decode memory, 16-bit PNGs converted, not whitened."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from include.visionflow.errors import DecodeError
from include.visionflow.images import DECODE_BUDGET, DecodeBudget, ImageSpec, transform_image

FLICKR = ImageSpec(mode="short_side", size=256, upscale=True, quality=75)


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("width", [200, 2000, 100000])
def test_upscaling_a_strip_is_refused_not_blown_up(width):
    data = png(np.zeros((1, width, 3), np.uint8))
    with pytest.raises(DecodeError) as err:
        transform_image(data, FLICKR)
    assert err.value.reason == "bad_aspect_ratio"


def test_a_panorama_within_the_aspect_limit_is_kept():
    out = transform_image(png(np.full((100, 1000, 3), 90, np.uint8)), FLICKR)
    assert (out.width, out.height) == (2560, 256)


def test_output_size_is_bounded():
    with pytest.raises(DecodeError) as err:
        ImageSpec(mode="short_side", size=8000, upscale=True).target(10000, 9000)
    assert err.value.reason == "output_too_large"


def test_16_bit_grey_png_keeps_its_tones():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    out = transform_image(png(ramp), ImageSpec())
    pixels = np.asarray(Image.open(io.BytesIO(out.jpeg)).convert("L"), dtype=np.float64)
    assert abs(pixels.mean() - 127.5) < 3
    assert pixels[:, :8].mean() < 10 and pixels[:, -8:].mean() > 245


def test_16_bit_rgb_png_keeps_its_tones():
    import cv2

    half = np.full((32, 32, 3), 32768, np.uint16)

    ok, encoded = cv2.imencode(".png", half)
    assert ok
    out = transform_image(encoded.tobytes(), ImageSpec())
    assert abs(np.asarray(Image.open(io.BytesIO(out.jpeg))).mean() - 128) < 3


def test_an_image_over_the_decode_budget_is_refused():
    data = png(np.zeros((1000, 1000, 4), np.uint8), "RGBA")
    limit = DECODE_BUDGET.limit
    DECODE_BUDGET.limit = 4 << 20  # a 1-Mpx RGBA image needs ~7 MB
    try:
        with pytest.raises(DecodeError) as err:
            transform_image(data, ImageSpec())
    finally:
        DECODE_BUDGET.limit = limit
    assert err.value.reason == "over_memory_budget"
    assert DECODE_BUDGET.used == 0


def test_budget_is_released_after_each_image():
    budget = DecodeBudget(100)
    with budget.reserve(60):
        assert budget.used == 60
    with budget.reserve(100):
        assert budget.used == 100
    assert budget.used == 0
