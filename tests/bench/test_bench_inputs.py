"""Bench inputs are deterministic and every served item is a distinct JPEG with the base's pixels."""
from __future__ import annotations

import io

from bench.inputs import FLICKR_M, _make_base, image_id, uniquify


def test_generated_base_is_deterministic():
    assert _make_base(FLICKR_M, 3) == _make_base(FLICKR_M, 3)


def test_uniquify_changes_bytes_but_not_pixels():
    from PIL import Image

    base = _make_base(FLICKR_M, 0)
    a, b = uniquify(base, 1), uniquify(base, 2)
    assert a != b and a == uniquify(base, 1)
    pixels = Image.open(io.BytesIO(base)).tobytes()
    assert Image.open(io.BytesIO(a)).tobytes() == pixels


def test_image_ids_look_like_openimages_and_are_stable():
    assert image_id("camera", 7) == image_id("camera", 7) != image_id("camera", 8)
    assert len(image_id("camera", 7)) == 16 and int(image_id("camera", 7), 16) >= 0
