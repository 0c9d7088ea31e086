"""Image decode, resize and encode: where an image is turned into the bytes we store.

Speed comes from decoding less: a JPEG that will be shrunk is decoded already scaled down in the DCT
(Pillow's ``draft``, libjpeg-turbo's 1/2, 1/4, 1/8 scaling), straight to the smallest size that is still at
least the target, so the resampling that follows sees a fraction of the pixels. Pillow releases the GIL while
decoding, resampling and encoding, so the threads of one process keep every core busy while others wait on
the network. Each image is decoded once.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from include.visionflow.errors import BadInputError, DecodeError

# Decompression-bomb limit: 120 Mpx is beyond any camera this pipeline expects (Pillow's own hard
# limit is ~179 Mpx; ours is lower so the reason code is ours).
MAX_PIXELS = 120_000_000
MODES = ("thumbnail", "short_side")


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
        side = max(width, height) if self.mode == "thumbnail" else min(width, height)
        scale = self.size / side
        if scale >= 1 and not self.upscale:
            return width, height
        return max(1, round(width * scale)), max(1, round(height * scale))


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
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # Alpha is composited on white: a transparent logo should not turn black.
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _orient(im):
    from PIL import ImageOps

    # The stored JPEG carries no EXIF, so apply the orientation now or the picture ends up sideways.
    return ImageOps.exif_transpose(im)


def transform_image(data: bytes, spec: ImageSpec) -> ProcessedImage:
    """Decode ``data`` once, resize per ``spec``, return an RGB JPEG. Raises DecodeError."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as err:
        raise DecodeError("not_an_image", str(err)) from None
    except Image.DecompressionBombError as err:
        raise DecodeError("too_many_pixels", str(err)) from None
    src_w, src_h = im.size
    if src_w * src_h > MAX_PIXELS:
        raise DecodeError("too_many_pixels", f"{src_w}x{src_h} exceeds {MAX_PIXELS} pixels")
    orientation = im.getexif().get(0x0112, 1)
    # Targets are computed in the displayed orientation; a 90-degree EXIF rotation swaps the sides.
    shown_w, shown_h = (src_h, src_w) if orientation in (5, 6, 7, 8) else (src_w, src_h)
    tw, th = spec.target(shown_w, shown_h)
    try:
        if im.format == "JPEG" and tw < shown_w:
            dw, dh = (th, tw) if orientation in (5, 6, 7, 8) else (tw, th)
            im.draft("RGB", (dw, dh))
        im.load()
        im = _to_rgb(_orient(im))
    except (OSError, SyntaxError, ValueError) as err:
        raise DecodeError("decode_error", str(err)) from None
    except Image.DecompressionBombError as err:
        raise DecodeError("too_many_pixels", str(err)) from None
    if im.size != (tw, th):
        im = im.resize((tw, th), Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=spec.quality)
    return ProcessedImage(out.getvalue(), tw, th, shown_w, shown_h)

