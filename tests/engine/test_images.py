"""Image transforms on the real scikit-image photos and generated variants."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from include.sample_source.media import color_photos
from include.sample_source.openimages import Entry, render
from include.visionflow.errors import BadInputError, DecodeError
from include.visionflow.images import ImageSpec, transform_image


def jpeg_of(entry: Entry) -> bytes:
    return render(entry)[0]


def decoded(result) -> Image.Image:
    im = Image.open(io.BytesIO(result.jpeg))
    im.load()
    return im


def test_thumbnail_shrinks_long_side_without_upscaling():
    big = transform_image(jpeg_of(Entry("c", "coffee", size=2400)), ImageSpec("thumbnail", 1024))
    assert (big.width, big.height, big.src_width, big.src_height) == (1024, 683, 2400, 1600)
    small = transform_image(color_photos()["chelsea"].read_bytes(), ImageSpec("thumbnail", 1024))
    assert (small.width, small.height) == (451, 300)
    im = decoded(big)
    assert im.format == "JPEG" and im.mode == "RGB" and im.size == (1024, 683)


def test_short_side_resize_upscales_only_when_asked():
    data = color_photos()["chelsea"].read_bytes()  # 451x300
    up = transform_image(data, ImageSpec("short_side", 512, upscale=True))
    assert (up.width, up.height) == (770, 512)
    kept = transform_image(data, ImageSpec("short_side", 512, upscale=False))
    assert (kept.width, kept.height) == (451, 300)
    down = transform_image(data, ImageSpec("short_side", 256, upscale=True))
    assert min(down.width, down.height) == 256


def test_draft_decode_matches_full_decode_closely():
    """The DCT-scaled decode must look like a full decode followed by the same resize."""
    import numpy as np

    data = jpeg_of(Entry("r", "rocket", size=2560))
    fast = np.asarray(decoded(transform_image(data, ImageSpec("thumbnail", 640, quality=95))), dtype=float)
    ref = Image.open(io.BytesIO(data)).convert("RGB").resize(fast.shape[1::-1], Image.Resampling.LANCZOS)
    assert np.abs(fast - np.asarray(ref, dtype=float)).mean() < 6


def test_scaled_decode_then_bilinear_is_close_to_a_full_decode_reference():
    """The fast path (M/8 decode, then OpenCV bilinear for the <2x left) against a full decode + Lanczos:
    above 40 dB PSNR, i.e. no visible difference."""
    import numpy as np

    data = jpeg_of(Entry("c", "coffee", size=3200))  # 3200x2133 -> 1024 long side: decoded at 3/8
    fast = np.asarray(decoded(transform_image(data, ImageSpec("thumbnail", 1024, quality=98))), dtype=float)
    ref = Image.open(io.BytesIO(data)).convert("RGB").resize(fast.shape[1::-1], Image.Resampling.LANCZOS)
    mse = np.mean((fast - np.asarray(ref, dtype=float)) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 40


def test_bilinear_shortcut_only_for_steps_under_2x():
    import numpy as np

    from include.visionflow.images import _shrink_array

    pixels = np.zeros((1125, 1500, 3), np.uint8)
    assert _shrink_array(pixels, (1024, 768)).shape == (768, 1024, 3)
    assert _shrink_array(pixels, (700, 525)) is None  # over 2x: Pillow's widening filter does it
    assert _shrink_array(pixels, (1600, 1200)) is None  # enlarging is never this path


@pytest.mark.parametrize("variant, corner", [("rgba", (255, 255, 255)), ("palette", None), ("cmyk", None),
                                             ("gray", None), ("png", None)])
def test_every_mode_becomes_rgb_jpeg(variant, corner):
    photo = "logo" if variant == "rgba" else "coffee"
    result = transform_image(jpeg_of(Entry("v", photo, variant=variant)), ImageSpec("thumbnail", 256))
    im = decoded(result)
    assert im.mode == "RGB" and im.format == "JPEG"
    if corner:  # transparent areas are composited on white, not black
        assert all(abs(a - b) < 12 for a, b in zip(im.getpixel((0, 0)), corner))


def test_exif_orientation_is_applied():
    data = jpeg_of(Entry("e", "chelsea", variant="exif", size=1200))  # stored sideways (portrait), tagged
    result = transform_image(data, ImageSpec("thumbnail", 600))
    assert (result.width, result.height) == (600, 399)
    assert (result.src_width, result.src_height) == (1200, 798)
    # upright: the output matches the untagged landscape photo, not a rotated copy of it
    upright = decoded(transform_image(jpeg_of(Entry("u", "chelsea", size=1200)), ImageSpec("thumbnail", 600)))
    diff = [abs(a - b) for a, b in zip(decoded(result).convert("L").getdata(), upright.convert("L").getdata())]
    assert sum(diff) / len(diff) < 8


def test_not_an_image_and_truncated_are_decode_errors():
    with pytest.raises(DecodeError) as err:
        transform_image(b"<html>not an image</html>", ImageSpec())
    assert err.value.reason == "not_an_image"
    data = jpeg_of(Entry("t", "rocket", size=1400))
    with pytest.raises(DecodeError) as err:
        transform_image(data[: len(data) // 3], ImageSpec())
    assert err.value.reason == "decode_error"


def test_decompression_bomb_is_refused():
    buf = io.BytesIO()
    Image.new("L", (20000, 14000)).save(buf, "PNG")  # 280 Mpx of zeros: tiny file, huge decode
    with pytest.raises(DecodeError) as err:
        transform_image(buf.getvalue(), ImageSpec())
    assert err.value.reason == "too_many_pixels"


@pytest.mark.parametrize("kwargs", [{"mode": "crop"}, {"size": 0}, {"quality": 101}])
def test_bad_spec_names_the_problem(kwargs):
    with pytest.raises(BadInputError):
        ImageSpec(**kwargs)
