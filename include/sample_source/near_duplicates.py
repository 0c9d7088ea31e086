"""A labelled near-duplicate set from real photos, for measuring the filter's grouping (precision, recall).

Sources: scikit-image's sample photographs at full size, and the 3x3 grid tiles of the larger ones (a tile
of the astronaut's helmet and one of her flag are different pictures, as different as two photos of the
same scene). Every source is saved as a JPEG (quality 90) together with the edits a crawl meets when the
same picture is uploaded again: re-encoded at another quality, resized, cropped by a few pixels and
recoloured. Same source = should group; different sources = should not. ``motorcycle_left`` and
``motorcycle_right`` (a stereo pair, views a few centimetres apart) stay different sources, though a person
might call them near duplicates: they are the honest hard negatives of the set. Deterministic: same files, same
bytes, for the same Pillow.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from include.sample_source.files import generate_once

TILE_GRID = 3
MIN_TILE_SOURCE = 300  # photos whose short side is below this give no tiles (tiles under 100 px)
NO_TILES = ("chessboard_GRAY", "chessboard_RGB")  # their tiles are identical copies: true duplicates
# Photos that are the same picture under two names: one source for the ground truth.
SAME_PICTURE = {"chessboard_RGB": "chessboard_GRAY"}


def _jpeg(im, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _variants(im) -> dict[str, bytes]:
    """The source and its edits, each as the bytes a host would serve."""
    from PIL import Image, ImageEnhance, ImageOps

    w, h = im.size
    warm = Image.merge("RGB", [band.point(lambda v, f=f: min(255, int(v * f)))
                               for band, f in zip(im.split(), (1.12, 1.0, 0.85))])
    return {
        "orig": _jpeg(im),
        "q40": _jpeg(im, 40),
        "half": _jpeg(im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BILINEAR)),
        "three_quarter_q70": _jpeg(im.resize((max(1, w * 3 // 4), max(1, h * 3 // 4)), Image.Resampling.LANCZOS), 70),
        "crop3": _jpeg(im.crop((3, 3, w - 3, h - 3))),
        # 1.5% off the top and left (7 px of a 512-px photo, 2-3 px of a tile): a re-framed upload
        "crop_corner": _jpeg(im.crop((max(2, w * 3 // 200), max(2, h * 3 // 200), w, h))),
        "warm_tint": _jpeg(warm),
        "grey_brighter": _jpeg(ImageEnhance.Brightness(ImageOps.grayscale(im)).enhance(1.15).convert("RGB")),
        "more_contrast": _jpeg(ImageEnhance.Contrast(im).enhance(1.25)),
        "png": _png(im),  # the same pixels in other bytes: a different MD5
    }


def sources() -> dict[str, object]:
    """name -> RGB image: every photo, and the tiles of the larger ones."""
    from PIL import Image

    from include.sample_source.media import skimage_photos

    found = {}
    for name, path in skimage_photos().items():
        im = Image.open(path).convert("RGB")
        found[name] = im
        w, h = im.size
        if name in NO_TILES or min(w, h) < MIN_TILE_SOURCE:
            continue
        tw, th = w // TILE_GRID, h // TILE_GRID
        for r in range(TILE_GRID):
            for c in range(TILE_GRID):
                found[f"{name}-tile{r}{c}"] = im.crop((c * tw, r * th, (c + 1) * tw, (r + 1) * th))
    return found


def generate(folder: str | Path) -> list[dict]:
    """Write the set under ``folder`` (once) and return its index: ``{"file", "source", "edit"}`` per image,
    sorted by file name. About 2,100 images, ~60 MB."""
    folder = Path(folder)
    index_path = folder / "index.json"
    if index_path.exists():
        return json.loads(index_path.read_text())
    index = []
    for source, im in sources().items():
        for edit, data in _variants(im).items():
            name = f"{source}--{edit}.{'png' if edit == 'png' else 'jpg'}"
            generate_once(folder / name, lambda tmp, data=data: tmp.write_bytes(data))
            index.append({"file": name, "source": SAME_PICTURE.get(source, source), "edit": edit})
    index.sort(key=lambda row: row["file"])
    generate_once(index_path, lambda tmp: tmp.write_text(json.dumps(index)))
    return index
