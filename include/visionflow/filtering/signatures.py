"""One image's signature: what every later filter decision needs, computed once from the bytes.

The signature is small and fixed-size (two 64-bit perceptual hashes, the MD5, the original size, the byte
count, a one-colour measure), so the per-shard hash files stay ~100 bytes per image and every threshold
(Hamming radius, size rules) can change later without decoding anything again.

Speed: a JPEG is decoded with Pillow's ``draft`` straight to greyscale and scaled down in the DCT (1/2, 1/4 or
1/8, the smallest still at least ``DRAFT_SIZE`` per side), so a 12-Mpx photo costs a fraction of a full decode;
pHash itself only looks at a 32x32 thumbnail, so nothing is lost. The width and height recorded are the
original ones, read before drafting. Hashes are from the maintained ``imagehash`` library (pHash: DCT of a
32x32 grey thumbnail, 8x8 low frequencies against their median; dHash: horizontal gradient signs of a 9x8
thumbnail, taken here from pHash's 32x32 one), packed big-endian into a signed int64 so Parquet can store them in a typed column.

EXIF orientation is not applied: the hash is of the stored pixels, so the same photo stored sideways is a
different image to the grouping (as it is to a consumer that ignores EXIF).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from include.visionflow.errors import DecodeError
from include.visionflow.images import open_image

HASH_SIZE = 8  # 8x8 = 64 bits, imagehash's default and the issue's
# Decode a JPEG to at least this many pixels per side: pHash resizes to 32x32, the one-colour measure wants a
# few thousand pixels; 64 leaves Lanczos enough input and keeps the 1/8 DCT scaling for anything over 512 px.
DRAFT_SIZE = (64, 64)


@dataclass(frozen=True)
class Signature:
    key: str
    md5: str  # hex of the downloaded bytes: exact duplicates
    phash: int  # 64-bit pHash as a signed int64 (two's complement of the big-endian bit string)
    dhash: int  # 64-bit dHash, same packing
    width: int  # original size, before any draft scaling
    height: int
    bytes: int  # file size
    grey_std: float  # standard deviation of the grey levels (0-255) of the drafted image: ~0 is one colour


def to_int64(bits) -> int:
    """An imagehash bool array (8x8) as a signed int64, first bit most significant."""
    import numpy as np

    value = int.from_bytes(np.packbits(np.asarray(bits, dtype=bool).ravel()).tobytes(), "big")
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Bits that differ between two int64-packed hashes."""
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def compute(key: str, data: bytes) -> Signature:
    """The signature of ``data``; raises :class:`DecodeError` (``not_an_image``, ``too_many_pixels``,
    ``truncated_image``, ``decode_error``) when the bytes are not a whole, decodable image."""
    import imagehash
    import numpy as np
    from PIL import Image

    md5 = hashlib.md5(data).hexdigest()
    im = open_image(data)  # the downloader's limits: not an image, decompression bomb
    width, height = im.size  # before draft(): draft changes im.size to the scaled size
    try:
        if im.format == "JPEG":
            im.draft("L", DRAFT_SIZE)  # greyscale straight from the Y channel, scaled in the DCT
        im.load()
        grey = im.convert("L")
    except OSError as err:
        # Pillow says "image file is truncated" (JPEG, PNG) or "broken data stream": a partial download.
        reason = "truncated_image" if "truncated" in str(err) or "broken" in str(err) else "decode_error"
        raise DecodeError(reason, str(err)) from None
    except (SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DecodeError("decode_error", str(err)) from None
    finally:
        im.close()
    pixels = np.asarray(grey, dtype=np.float32)
    # pHash's own first step (imagehash: convert("L"), resize to 32x32 with Lanczos), done once here so dHash
    # reuses the thumbnail instead of resampling the whole image again: the same pHash, a dHash of 9x8 from it.
    thumb = grey.resize((HASH_SIZE * 4, HASH_SIZE * 4), Image.Resampling.LANCZOS)
    return Signature(
        key=key,
        md5=md5,
        phash=to_int64(imagehash.phash(thumb, hash_size=HASH_SIZE).hash),
        dhash=to_int64(imagehash.dhash(thumb, hash_size=HASH_SIZE).hash),
        width=width,
        height=height,
        bytes=len(data),
        grey_std=round(float(pixels.std()), 3),
    )
