"""Image decode, resize and encode: where an image is turned into the bytes we store.

Speed comes from decoding less: a JPEG that will be shrunk is decoded already scaled down in the DCT
(libjpeg-turbo's M/8 scaling through simplejpeg; Pillow's ``draft`` with 1/2, 1/4, 1/8 for rotated or unusual
JPEGs), straight to the smallest size that is still at least the target, so the resampling that follows sees a
fraction of the pixels. What is left to shrink after a scaled decode is under 2x, which OpenCV's SIMD bilinear
resamples ~6x faster than Pillow's and closer to a full-decode Lanczos reference (48.3 vs 47.4 dB PSNR on the
bench's camera photos; img2dataset's full decode + area filter: 50.5 dB). Pillow, simplejpeg and OpenCV release
the GIL while decoding, resampling and encoding, so the threads of one process keep every core busy while
others wait on the network. Each image is decoded once.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
from dataclasses import dataclass
from typing import Iterator

from include.visionflow.errors import BadInputError, DecodeError

# Decompression-bomb limit: 120 Mpx is beyond any camera this pipeline expects (Pillow's own hard
# limit is ~179 Mpx; ours is lower so the reason code is ours).
MAX_PIXELS = 120_000_000
# Upscaling (short_side mode) makes the long side size x aspect: a 200x1 strip would become 51200x256.
# Outputs are bounded in pixels and sides, and short_side refuses strips past MAX_ASPECT.
MAX_OUTPUT_PIXELS = 40_000_000
MAX_OUTPUT_SIDE = 16384
MAX_ASPECT = 16.0
MODES = ("thumbnail", "short_side")
# Bytes per pixel as Pillow stores a mode (3- and 4-band modes take 4 bytes, LA/PA too).
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
TRIM_AFTER = 256 << 20  # decodes this large give their freed memory back to the kernel at once


class DecodeBudget:
    """Bytes of decoded pixels the threads of one process may hold at once.

    Sixteen threads each decoding a 118-Mpx RGBA PNG need ~1.5 GB apiece; a budget makes them take turns
    instead of taking the worker down. An image that alone exceeds the budget is refused.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        if nbytes > self.limit:
            raise DecodeError("over_memory_budget",
                              f"decoding needs ~{nbytes >> 20} MB, over the per-process budget of "
                              f"{self.limit >> 20} MB (VISIONFLOW_DECODE_BUDGET_MB)")
        with self._cond:
            self._cond.wait_for(lambda: self.used + nbytes <= self.limit)
            self.used += nbytes
        try:
            yield
        finally:
            if nbytes >= TRIM_AFTER:
                from include.visionflow.memory import release_free_memory

                release_free_memory()
            with self._cond:
                self.used -= nbytes
                self._cond.notify_all()


DECODE_BUDGET = DecodeBudget(int(os.environ.get("VISIONFLOW_DECODE_BUDGET_MB", "2048")) << 20)


def decode_cost(mode: str, decoded_pixels: int, target: tuple[int, int]) -> int:
    """Peak bytes for one image: the decoded pixels, the RGB image made from them (alpha: an RGBA copy, the
    white background and the mask too), and the output. Measured: a 117-Mpx RGBA PNG peaks at ~1.45 GB."""
    per = BYTES_PER_PIXEL.get(mode, 4)
    if mode in ALPHA_MODES:
        per += 4 + 4 + 1
    elif mode != "RGB":
        per += 4
    return decoded_pixels * per + target[0] * target[1] * 4


@dataclass(frozen=True)
class ImageSpec:
    """``thumbnail``: longer side <= size; ``short_side``: shorter side = size."""

    mode: str = "thumbnail"
    size: int = 1024
    upscale: bool = False
    quality: int = 90

    def __post_init__(self):
        if self.mode not in MODES:
            raise BadInputError(f"image mode {self.mode!r} unknown; use one of {MODES}")
        if not 1 <= self.size <= 16384:
            raise BadInputError(f"image size {self.size} out of range 1..16384")
        if not 1 <= self.quality <= 100:
            raise BadInputError(f"JPEG quality {self.quality} out of range 1..100")

    def target(self, width: int, height: int) -> tuple[int, int]:
        """The output size; DecodeError when it would be an absurd strip or too large."""
        side = max(width, height) if self.mode == "thumbnail" else min(width, height)
        scale = self.size / side
        if self.mode == "short_side" and max(width, height) > MAX_ASPECT * min(width, height):
            raise DecodeError("bad_aspect_ratio", f"{width}x{height} is longer than {MAX_ASPECT:g}:1; "
                                                  f"scaling its short side to {self.size} would make a strip")
        if scale >= 1 and not self.upscale:
            out = width, height
        else:
            out = max(1, round(width * scale)), max(1, round(height * scale))
        if max(out) > MAX_OUTPUT_SIDE or out[0] * out[1] > MAX_OUTPUT_PIXELS:
            raise DecodeError("output_too_large", f"{width}x{height} would become {out[0]}x{out[1]}, over "
                                                  f"{MAX_OUTPUT_SIDE} px a side or {MAX_OUTPUT_PIXELS} px")
        return out


@dataclass(frozen=True)
class ProcessedImage:
    jpeg: bytes
    width: int
    height: int
    src_width: int
    src_height: int


def _to_rgb(im):
    from PIL import Image

    if im.mode == "RGB":
        return im
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # 16-bit (and 32-bit) grey: Pillow's convert clips to 0..255, so anything above 1/256 of full scale
        # turned white. Map the 16-bit range onto 8 bits instead.
        import numpy as np

        values = np.asarray(im)
        if im.mode == "F":
            scale = 255.0 if values.size and values.max() <= 1.0 else 255.0 / 65535.0
            grey = np.clip(values * scale, 0, 255).astype(np.uint8)
        else:
            grey = (np.clip(values, 0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # Alpha is composited on white: a transparent logo should not turn black.
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _orient(im, orientation: int):
    from PIL import ImageOps

    # The stored JPEG carries no EXIF, so apply the orientation now or the picture ends up sideways.
    # Without a rotation exif_transpose only copies the whole image: skip that copy.
    return ImageOps.exif_transpose(im) if orientation in (2, 3, 4, 5, 6, 7, 8) else im


def _shrink_array(pixels, size: tuple[int, int]):
    """``pixels`` (H x W x 3) bilinearly resampled to ``size`` when that shrinks by less than 2x, else None.

    Plain bilinear reads a 2x2 neighbourhood: past 2x it would skip pixels and alias, so larger steps go to
    Pillow's filter, whose kernel widens with the scale.
    """
    height, width = pixels.shape[:2]
    if not (size[0] <= width < 2 * size[0] and size[1] <= height < 2 * size[1]):
        return None
    cv2 = _opencv()
    return cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)


@functools.cache
def _opencv():
    import cv2

    # Parallelism is across images (threads and shard processes); OpenCV's own pool on top would only
    # oversubscribe the cores.
    cv2.setNumThreads(1)
    return cv2


def _scaled_jpeg(data: bytes, im, size: tuple[int, int]):
    """A 3-channel JPEG decoded by libjpeg-turbo straight to the smallest M/8 scale that still covers ``size``.

    Finer steps than Pillow's ``draft`` (1/2, 1/4, 1/8): a 4000x3000 photo bound for 1024 decodes at 3/8
    (1500x1125) instead of 1/2, so the resize after it reads ~45% fewer pixels. None when simplejpeg cannot
    do it (CMYK, damaged data, ...): Pillow's path then decodes it or names the error.
    """
    if im.format != "JPEG" or im.mode != "RGB":
        return None
    try:
        import simplejpeg

        # fastdct: libjpeg-turbo's integer IDCT; its error is far below what the resize that follows removes.
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=size[0], min_height=size[1],
                                        fastdct=True)
    except (ImportError, ValueError, OSError):
        return None
    from PIL import Image

    shrunk = _shrink_array(pixels, size)
    return Image.fromarray(pixels if shrunk is None else shrunk)


def open_image(data: bytes):
    """``data`` opened lazily with Pillow (nothing decoded yet), refused as DecodeError when it is not an image
    or its header promises more than ``MAX_PIXELS`` (a decompression bomb)."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as err:
        raise DecodeError("not_an_image", str(err)) from None
    except Image.DecompressionBombError as err:
        raise DecodeError("too_many_pixels", str(err)) from None
    if im.size[0] * im.size[1] > MAX_PIXELS:
        raise DecodeError("too_many_pixels", f"{im.size[0]}x{im.size[1]} exceeds {MAX_PIXELS} pixels")
    return im


def transform_image(data: bytes, spec: ImageSpec) -> ProcessedImage:
    """Decode ``data`` once, resize per ``spec``, return an RGB JPEG. Raises DecodeError."""
    im = open_image(data)
    src_w, src_h = im.size
    # The target's area does not depend on the EXIF rotation: a budget can be reserved before reading the
    # EXIF, which for a PNG decodes the whole image (its eXIf chunk may follow the pixels).
    tw, th = spec.target(src_w, src_h)
    # A JPEG bound for a smaller size is decoded scaled, to at most ~2x the target per side.
    decoded = min(src_w * src_h, 4 * tw * th) if im.format == "JPEG" and tw < src_w else src_w * src_h
    with DECODE_BUDGET.reserve(decode_cost(im.mode, decoded, (tw, th))):
        try:
            orientation = im.getexif().get(0x0112, 1)
            # Targets are computed in the displayed orientation; a 90-degree EXIF rotation swaps the sides.
            shown_w, shown_h = (src_h, src_w) if orientation in (5, 6, 7, 8) else (src_w, src_h)
            tw, th = spec.target(shown_w, shown_h)
            return _decode_resize(data, im, orientation, (shown_w, shown_h), (tw, th), spec)
        finally:
            im.close()  # frees the decoded pixels now, inside the reservation, not when the caller lets go


def _decode_resize(data: bytes, im, orientation: int, shown: tuple[int, int], target: tuple[int, int],
                   spec: ImageSpec) -> ProcessedImage:
    from PIL import Image

    (shown_w, shown_h), (tw, th) = shown, target
    try:
        scaled = _scaled_jpeg(data, im, (tw, th)) if orientation == 1 and tw < shown_w else None
        if scaled is not None:
            im = scaled
        else:
            if im.format == "JPEG" and tw < shown_w:
                dw, dh = (th, tw) if orientation in (5, 6, 7, 8) else (tw, th)
                im.draft("RGB", (dw, dh))
            im.load()
            im = _to_rgb(_orient(im, orientation))
    except (OSError, SyntaxError, ValueError) as err:
        raise DecodeError("decode_error", str(err)) from None
    except Image.DecompressionBombError as err:
        raise DecodeError("too_many_pixels", str(err)) from None
    if im.size != (tw, th):
        # Shrinking: Pillow's bilinear widens its kernel with the scale factor (a proper antialiasing
        # filter, not 2x2 sampling) and costs ~1/3 less than bicubic; enlarging keeps bicubic's sharpness.
        shrink = tw < im.width
        resample = Image.Resampling.BILINEAR if shrink else Image.Resampling.BICUBIC
        im = im.resize((tw, th), resample, reducing_gap=2.0 if shrink else None)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=spec.quality)
    return ProcessedImage(out.getvalue(), tw, th, shown_w, shown_h)

