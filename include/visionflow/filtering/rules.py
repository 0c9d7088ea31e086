"""Size, shape, file-size and one-colour rules on a signature: the first failed rule's reason code, or None.

The defaults are deliberately loose (they drop what no consumer can use, not what a curated set would), and
each is a parameter so a family can set what its consumers expect:

* ``min_short_side`` 64 px: below that a 224-px training crop is mostly upscaling blur; a 1x1 tracking pixel
  or an icon is dropped. (DataComp's "basic" filter uses 200; set it per family.)
* ``max_aspect`` 6.0: banners and strips; the resize stage already refuses past 16:1 (images.MAX_ASPECT).
* ``min_bytes`` 512: real photos at 64 px and up are over 1 KB as JPEG; what is smaller is an error page,
  a pixel or an empty body that happened to decode.
* ``one_colour_std`` 1.0 and ``near_one_colour_std`` 4.0 (grey-level standard deviation, 0-255, of the
  drafted greyscale image): an all-black or all-white frame, and a flat frame with only JPEG noise or a faint
  logo. It measures luminance only, so two colours of equal luminance side by side look flat to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from include.visionflow.filtering.signatures import Signature


@dataclass(frozen=True)
class Rules:
    min_short_side: int = 64
    max_aspect: float = 6.0
    min_bytes: int = 512
    one_colour_std: float = 1.0
    near_one_colour_std: float = 4.0

    def reason(self, sig: Signature) -> str | None:
        """``too_small``, ``bad_aspect_ratio``, ``too_few_bytes``, ``one_colour``, ``near_one_colour`` or None;
        checked in that order (the cheapest and the most certain first)."""
        short, long = sorted((sig.width, sig.height))
        if short < self.min_short_side:
            return "too_small"
        if long > self.max_aspect * short:
            return "bad_aspect_ratio"
        if sig.bytes < self.min_bytes:
            return "too_few_bytes"
        if sig.grey_std < self.one_colour_std:
            return "one_colour"
        if sig.grey_std < self.near_one_colour_std:
            return "near_one_colour"
        return None
