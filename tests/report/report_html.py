"""Reading a report.html back as a browser would: its sections and its embedded images, decoded."""
from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings: list[str] = []
        self.images: dict[str, bytes] = {}
        self._heading = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2", "h3"):
            self._heading = ""
        if tag == "img":
            head, _, data = attrs.get("src", "").partition(";base64,")
            assert head.startswith("data:image/"), f"image not embedded: {attrs.get('src', '')[:80]}"
            self.images[attrs.get("alt", "")] = base64.b64decode(data)

    def handle_data(self, data):
        if self._heading is not None:
            self._heading += data

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None


def read_report(path: Path) -> tuple[list[str], dict[str, Image.Image]]:
    """(headings, {alt text: decoded image}); every image must be embedded and decode to a non-empty picture."""
    parser = _Parser()
    parser.feed(Path(path).read_text())
    images = {}
    for alt, data in parser.images.items():
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.width > 0 and image.height > 0, alt
        images[alt] = image
    return parser.headings, images


def image_titled(images: dict[str, Image.Image], start: str) -> Image.Image:
    """The one image whose alt text starts with ``start``."""
    found = [image for alt, image in images.items() if alt.startswith(start)]
    assert len(found) == 1, (start, sorted(images))
    return found[0]


def summary_of(path: Path) -> dict[str, str]:
    """The report's Summary table as {key: shown value}."""
    import re
    from html import unescape

    found = re.findall(r'<td data-key="([^"]*)">([^<]*)</td>', Path(path).read_text())
    return {unescape(k): unescape(v) for k, v in found}
