"""Frames of one video segment at a fixed rate, decoded with PyAV (formats.md 2.2: 16 fps, native size)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from include.visionflow.errors import DecodeError


def read_segments(text: str) -> list[tuple[float, float]]:
    """``start,end`` lines (seconds) as written by the scene step; blank lines ignored."""
    segments = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            start, end = (float(v) for v in line.split(","))
        except ValueError as err:
            raise DecodeError("bad_segments", f"line {number}: {line[:60]!r} is not 'start,end'") from err
        if end > start >= 0:
            segments.append((start, end))
    return segments


def segment_frames(container, start: float, end: float, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, RGB frame) at about ``fps`` for ``start <= t < end``: for each tick ``start + k / fps`` the first
    decoded frame at or after it (so a slower source gives fewer frames, never repeats)."""
    import av

    stream = container.streams.video[0]
    offset = (container.start_time or 0) / 1_000_000
    half = 0.5 / float(stream.average_rate or 25)
    container.seek(int((start + offset) * 1_000_000), backward=True, any_frame=False)
    step, tick = 1.0 / fps, start
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            seconds = float(frame.pts * frame.time_base) - offset
            if seconds >= end:
                break
            if seconds + half < tick:
                continue
            yield round(seconds, 4), frame.to_ndarray(format="rgb24")
            while tick <= seconds + half:
                tick += step
    except av.error.FFmpegError as err:
        raise DecodeError("corrupt_video", f"decoding failed near {start:.2f}s: {err}") from err


def open_video(path: Path):
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:
        raise DecodeError("unreadable_video", f"{path.name}: {err}") from err
    if not container.streams.video:
        container.close()
        raise DecodeError("no_video_stream", path.name)
    container.streams.video[0].thread_type = "AUTO"
    return container
