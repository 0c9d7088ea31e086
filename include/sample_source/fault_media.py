"""The bytes the fault catalogue serves: small pictures in many image modes, and bombs.

Every picture is a small crop of a scikit-image photo at an offset seeded by its name, so a test knows its
bytes and the RGB picture a pipeline should store (``picture``'s third value) before anything is fetched.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import struct
import threading
import zlib

from include.sample_source.media import skimage_photos

TILE = (80, 60)  # every picture is this small: the suite measures the pipeline, not the codec


@functools.lru_cache(maxsize=8)
def _photo(name: str):
    from PIL import Image

    im = Image.open(skimage_photos()[name])
    im.load()
    return im.convert("RGB")


def base_picture(name: str):
    """The RGB tile ``name`` seeds: a crop of one of three photos at a seeded offset."""
    digest = hashlib.md5(name.encode()).digest()
    photo = _photo(("astronaut", "coffee", "chelsea")[digest[0] % 3])
    x = int.from_bytes(digest[1:3], "big") % (photo.width - TILE[0])
    y = int.from_bytes(digest[3:5], "big") % (photo.height - TILE[1])
    return photo.crop((x, y, x + TILE[0], y + TILE[1]))


def _on_white(rgb, alpha):
    from PIL import Image

    white = Image.new("RGB", rgb.size, (255, 255, 255))
    white.paste(rgb, mask=alpha)
    return white


def _png_16bit(pixels, color_type: int) -> bytes:
    """A 16-bit PNG written by hand (Pillow writes 16-bit grey only): ``pixels`` uint8 HxW or HxWx3."""
    wide = pixels.astype(">u2") * 257
    rows = wide.reshape(wide.shape[0], -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _encode(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@functools.lru_cache(maxsize=16384)
def picture(variant: str, name: str):
    """(bytes served, content type, RGB picture the pipeline should store) for an image variant."""
    import numpy as np
    from PIL import Image

    base = base_picture(name)
    gray = base.convert("L")
    alpha = Image.linear_gradient("L").resize(base.size)
    if variant == "png16_gray":
        return _png_16bit(np.asarray(gray), 0), "image/png", gray.convert("RGB")
    if variant == "png16_rgb":
        return _png_16bit(np.asarray(base), 2), "image/png", base
    if variant == "cmyk":
        cmyk = base.convert("CMYK")
        return _encode(cmyk, "JPEG", quality=95), "image/jpeg", cmyk.convert("RGB")
    if variant in ("palette", "palette_alpha", "gif"):
        pal = base.quantize(64)
        if variant == "gif":
            return _encode(pal, "GIF"), "image/gif", pal.convert("RGB")
        if variant == "palette":
            return _encode(pal, "PNG"), "image/png", pal.convert("RGB")
        pal.info["transparency"] = 0  # palette index 0 is see-through
        rgba = pal.convert("RGBA")
        return _encode(pal, "PNG", transparency=0), "image/png", _on_white(rgba.convert("RGB"), rgba.getchannel("A"))
    if variant == "la":
        la = Image.merge("LA", (gray, alpha))
        return _encode(la, "PNG"), "image/png", _on_white(gray.convert("RGB"), alpha)
    if variant == "rgba":
        rgba = base.copy()
        rgba.putalpha(alpha)
        return _encode(rgba, "PNG"), "image/png", _on_white(base, alpha)
    if variant == "gray":
        return _encode(gray, "JPEG", quality=95), "image/jpeg", gray.convert("RGB")
    if variant == "bilevel":
        bw = gray.convert("1", dither=Image.Dither.NONE)
        return _encode(bw, "PNG"), "image/png", bw.convert("RGB")
    if variant == "progressive":
        return _encode(base, "JPEG", quality=95, progressive=True), "image/jpeg", base
    if variant == "exif_rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # shown rotated 90 degrees clockwise: stored turned the other way
        stored = base.transpose(Image.Transpose.ROTATE_90)
        return _encode(stored, "JPEG", quality=95, exif=exif), "image/jpeg", base
    if variant == "webp":
        return _encode(base, "WEBP", quality=95), "image/webp", base
    if variant == "wide":
        wide = base.resize((4000, 3))
        return _encode(wide, "PNG"), "image/png", wide
    return _encode(base, "JPEG", quality=95), "image/jpeg", base


@functools.lru_cache(maxsize=4)
def png_1bit(width: int, height: int) -> bytes:
    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@functools.lru_cache(maxsize=4)
def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(picture("jpeg", "jpeg-bomb")[0])
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


_BOMB_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _gzip_bomb_bytes() -> bytes:
    return gzip.compress(b"\x00" * (256 << 20), compresslevel=9, mtime=0)


def gzip_bomb() -> bytes:
    with _BOMB_LOCK:  # concurrent first requests would each compress 256 MB
        return _gzip_bomb_bytes()
