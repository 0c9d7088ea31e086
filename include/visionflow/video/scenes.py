"""Scene segments of a video with PySceneDetect's ``AdaptiveDetector`` (formats.md 2.1, upstream
``utils/segments.py``): the library does the detection, this module only applies TrackVerse's rules.

* No cut found: the whole stream is one scene.
* A scene of ``max_len`` seconds (600) or more keeps only its first ``max_len`` seconds.
* Scenes shorter than ``min_len`` seconds (3) are dropped.

Segments are written as upstream does: one ``start,end`` line (float seconds) per kept segment, no trailing
newline.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from include.visionflow.errors import BadInputError, DecodeError

log = logging.getLogger(__name__)

MAX_SCENE_SECONDS = 600.0
MIN_SCENE_SECONDS = 3.0
Segments = list[tuple[float, float]]  # (start, end) seconds


@dataclass(frozen=True)
class SceneOptions:
    """AdaptiveDetector settings (0.6.3 defaults, the ones TrackVerse ran) and the length rules."""

    threshold: float = 3.0  # adaptive_threshold
    min_scene_len: int = 15  # frames
    window_width: int = 2
    min_content_val: float = 15.0
    max_len: float = MAX_SCENE_SECONDS
    min_len: float = MIN_SCENE_SECONDS
    backend: str = "pyav"  # same cuts as "opencv" (stack-facts.md); PyAV is the project's decoder

    def __post_init__(self) -> None:
        if self.threshold <= 0 or self.min_scene_len < 1 or self.window_width < 1:
            raise BadInputError(f"scene detector settings must be positive: {self}")
        if not 0 <= self.min_len < self.max_len:
            raise BadInputError(f"scene lengths need 0 <= min_len < max_len, got {self.min_len}, {self.max_len}")


def detect_scenes(path: str | Path, options: SceneOptions = SceneOptions()) -> tuple[Segments, float]:
    """Raw scenes ``[(start, end), ...]`` in seconds and the stream duration; no cut gives one whole scene."""
    from scenedetect import AdaptiveDetector, SceneManager, open_video
    from scenedetect.video_stream import VideoOpenFailure

    try:
        video = open_video(str(path), backend=options.backend)
    except (VideoOpenFailure, OSError, ValueError) as err:
        raise DecodeError("unreadable_video", f"{Path(path).name}: {err}") from err
    finally:
        _quiet_ffmpeg()
    manager = SceneManager()
    manager.add_detector(AdaptiveDetector(adaptive_threshold=options.threshold, min_scene_len=options.min_scene_len,
                                          window_width=options.window_width,
                                          min_content_val=options.min_content_val))
    frames = manager.detect_scenes(video=video)
    if not frames:
        raise DecodeError("corrupt_video", f"{Path(path).name}: no frame could be decoded")
    duration = float(video.position.seconds) if video.position is not None else 0.0
    duration = max(duration, frames / float(video.frame_rate))
    scenes = [(float(s.seconds), float(e.seconds)) for s, e in manager.get_scene_list(start_in_scene=True)]
    return scenes or [(0.0, duration)], duration


def _quiet_ffmpeg() -> None:
    """FFmpeg's logging off again, as PyAV leaves it. PySceneDetect's PyAV backend restores FFmpeg's own stderr
    printer on every open, and each later encode in the process then printed libx264's banner and statistics,
    which an Airflow task log files as errors. Not a level: any level routes FFmpeg's messages through a Python
    callback, which deadlocked the next threaded decode (PyAV's documented caveat)."""
    import av

    av.logging.set_level(None)


def keep_segments(scenes: Segments, options: SceneOptions = SceneOptions()) -> Segments:
    """TrackVerse's rules: cap each scene at ``max_len`` seconds, then drop those under ``min_len``."""
    kept = []
    for start, end in scenes:
        end = min(end, start + options.max_len)
        if end - start >= options.min_len:
            kept.append((round(start, 3), round(end, 3)))
    return kept


def segment_video(path: str | Path, options: SceneOptions = SceneOptions()) -> Segments:
    """The kept segments of a video (may be empty: every scene too short)."""
    scenes, duration = detect_scenes(path, options)
    kept = keep_segments(scenes, options)
    log.debug("%s: %s scenes in %.1f s, %s kept", Path(path).name, len(scenes), duration, len(kept))
    return kept


def format_segments(segments: Segments) -> str:
    return "\n".join(f"{start},{end}" for start, end in segments)


def parse_segments(text: str) -> Segments:
    """Read ``start,end`` lines (upstream's files have no trailing newline; blank lines are ignored)."""
    segments = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            start, end = (float(v) for v in line.split(","))
        except ValueError:
            raise BadInputError(f"segment line {number} {line!r} is not 'start,end' in seconds") from None
        segments.append((start, end))
    return segments


def sample_times(start: float, end: float, fps: float = 2.0, max_seconds: float = 8.0) -> list[float]:
    """Upstream's filter sampling: ``fps`` frames a second over the first ``min(length, max_seconds)``."""
    stop = min(end, start + max_seconds)
    count = max(1, math.ceil((stop - start) * fps - 1e-6))  # like arange(start, stop, 1 / fps)
    return [start + k / fps for k in range(count)]


def segment_frames(path: str | Path, start: float, end: float, *, fps: float = 2.0, max_seconds: float = 8.0,
                   short_side: int = 256) -> list:
    """RGB frames (numpy, short side ``short_side``) at :func:`sample_times`: for each time, the first
    frame at or after it. The container is seeked to the segment, so long videos are not decoded whole."""
    import av

    from include.visionflow.video.probe import open_video, target_size

    wanted = sample_times(start, end, fps, max_seconds)
    frames: list = []
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        offset = (container.start_time or 0) / 1_000_000
        if start > 0:
            container.seek(int((start + offset) / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            seconds = float(frame.pts * stream.time_base) - offset
            if seconds >= end or not wanted:
                break
            if seconds + 1e-3 < wanted[0]:
                continue
            while wanted and wanted[0] <= seconds + 1e-3:
                wanted.pop(0)
            width, height = target_size(frame.width, frame.height, short_side, upscale=False, even=True)
            frames.append(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
    except av.error.FFmpegError as err:
        raise DecodeError("corrupt_video", f"{Path(path).name}: {err}") from err
    finally:
        container.close()
    return frames
