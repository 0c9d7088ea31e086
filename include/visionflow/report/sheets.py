"""Contact sheets: sampled outputs drawn into one PNG with Pillow (thumbnails, frame strips, before/after)."""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

CAPTION_HEIGHT = 14
GAP = 4
MAX_PER_ROW = 8


@dataclass
class Sheet:
    """``rows``: each a list of images (keys in ``storage`` or raw bytes) drawn left to right in ``cell``-pixel
    boxes; ``captions``: one per row (drawn above it). Rows of one image are packed ``MAX_PER_ROW`` wide,
    so a list of single thumbnails becomes a grid."""
    title: str
    rows: list[list[str | bytes]]
    storage: Storage | None = None
    captions: list[str] = field(default_factory=list)
    cell: int = 128


def _load(item: str | bytes, storage: Storage | None):
    from PIL import Image, ImageOps

    data = item if isinstance(item, bytes) else storage.read_bytes(item)
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (512, 512))  # decode JPEGs at a reduced scale: thumbnails only
    return ImageOps.exif_transpose(image).convert("RGB")


def _pack(sheet: Sheet) -> tuple[list[list], list[str]]:
    """Single-image rows packed into grid rows; captions joined accordingly."""
    if sheet.rows and all(len(r) == 1 for r in sheet.rows):
        items = [r[0] for r in sheet.rows]
        rows = [items[i:i + MAX_PER_ROW] for i in range(0, len(items), MAX_PER_ROW)]
        return rows, []
    return sheet.rows, sheet.captions


def render_sheet(sheet: Sheet) -> bytes | None:
    """PNG bytes, or None when no image could be read (each unreadable one is logged and left blank)."""
    from PIL import Image, ImageDraw

    rows, captions = _pack(sheet)
    if not rows:
        return None
    cell = sheet.cell
    width = GAP + max(len(r) for r in rows) * (cell + GAP)
    row_h = cell + GAP + (CAPTION_HEIGHT if captions else 0)
    canvas = Image.new("RGB", (width, GAP + len(rows) * row_h), "white")
    draw = ImageDraw.Draw(canvas)
    drawn = 0
    for y, row in enumerate(rows):
        top = GAP + y * row_h
        if captions and y < len(captions):
            draw.text((GAP, top), captions[y][:100], fill="black")
            top += CAPTION_HEIGHT
        for x, item in enumerate(row):
            try:
                image = _load(item, sheet.storage)
            except Exception as err:  # noqa: BLE001 - a sample that cannot be drawn stays a blank box
                log.warning("report sample %s not drawn: %s", item if isinstance(item, str) else "<bytes>", err)
                continue
            image.thumbnail((cell, cell))
            left = GAP + x * (cell + GAP) + (cell - image.width) // 2
            canvas.paste(image, (left, top + (cell - image.height) // 2))
            drawn += 1
    if not drawn:
        return None
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
