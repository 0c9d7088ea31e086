"""A stand-in for a host's "this photo is no longer available" image, served with HTTP 200 like the real one.

Flickr answers a deleted photo's static URL with a grey placeholder picture and status 200, so a downloader
stores it as a good image. The real picture cannot be fetched on a machine without internet, so the sample
source serves this stand-in instead (a grey 500x375 PNG with the text drawn by Pillow), and its pHash is in
``include/visionflow/filtering/placeholders.json`` as ``"visionflow sample source stand-in"``: the filter's
placeholder mechanism is tested end to end against it.
"""
from __future__ import annotations

import functools
import io

SIZE = (500, 375)
GREY = (221, 221, 221)
TEXT = "This photo is no longer available"


@functools.cache
def stand_in_png() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("RGB", SIZE, GREY)
    draw = ImageDraw.Draw(im)
    # A dark "frame" glyph above the text, as the real placeholder has an icon: gives the pHash structure.
    draw.rectangle((200, 90, 300, 170), outline=(150, 150, 150), width=6)
    draw.ellipse((225, 110, 255, 140), fill=(150, 150, 150))
    font = ImageFont.load_default(size=22)
    box = draw.textbbox((0, 0), TEXT, font=font)
    draw.text(((SIZE[0] - (box[2] - box[0])) // 2, 220), TEXT, fill=(120, 120, 120), font=font)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=False)
    return buf.getvalue()
