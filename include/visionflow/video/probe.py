"""Probe a video file: size, display rotation, frame rate, duration → :class:`VideoInfo`.

Phone videos are often stored landscape with a display matrix saying "rotate 90°"; every size decision in
visionflow (short side, portrait or landscape) uses the *display* size, as the ffmpeg CLI does when it
autorotates. Probing decodes one frame, so a file that opens but cannot be decoded is caught here.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from include.visionflow.errors import DecodeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInfo:
    """What the pipeline needs to know about one video.

    ``width``/``height`` are the coded (stored) size; ``rotation`` is the display rotation in degrees
    counter-clockwise (0, 90, 180, 270), as in the container's display matrix.
    """

    width: int
    height: int
    rotation: int
    fps: float
    duration: float
    frames: int
    codec: str
    has_audio: bool = False

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown to a viewer, after rotation."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def is_portrait(self) -> bool:
        width, height = self.display_size
        return height > width


def normalize_rotation(degrees: float | int | None) -> int:
    """Snap a display-matrix angle to 0/90/180/270 (counter-clockwise); odd angles are not supported."""
    if not degrees:
        return 0
    snapped = int(round(float(degrees) / 90.0)) * 90 % 360
    if abs((float(degrees) % 360) - snapped) > 1 and abs((float(degrees) % 360) - snapped - 360) > 1:
        log.warning("display rotation %s is not a multiple of 90 degrees; using %s", degrees, snapped)
    return snapped


def target_size(width: int, height: int, short_side: int | None, *, upscale: bool, even: bool,
                nearest: bool = False) -> tuple[int, int]:
    """Size whose short side is ``short_side``, keeping the aspect ratio.

    ``even=True`` rounds the long side to a multiple of 2 like ffmpeg's ``scale=-2:N`` (needed by yuv420p
    encoders); otherwise it is truncated like mmcv's ``imrescale`` (mmaction raw frames). Without ``upscale``
    a video whose short side is already at most ``short_side`` keeps its size (rounded down to even if asked).
    ``nearest`` (with ``even=False``) rounds the long side to nearest like ffmpeg's ``scale=-1:N``.
    """
    if not short_side or short_side <= 0 or (not upscale and min(width, height) <= short_side):
        return (width - width % 2, height - height % 2) if even else (width, height)
    landscape = width >= height
    long_in, short_in = (width, height) if landscape else (height, width)
    if even:
        long_out = max(2, (short_side * long_in + short_in) // (2 * short_in) * 2)  # av_rescale rounding
        short_out = short_side - short_side % 2
    elif nearest:
        long_out, short_out = max(1, (short_side * long_in + short_in // 2) // short_in), short_side
    else:
        long_out, short_out = max(1, int(long_in * short_side / short_in)), short_side
    return (long_out, short_out) if landscape else (short_out, long_out)


def work_estimate(path: str | Path) -> int:
    """How much decoding a file is, for balancing shards: its size in bytes (a stat, no probing; 0 when it
    cannot be read, and the item reports why later)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def open_video(path: str | Path):
    """Open a container with a video stream, or raise :class:`DecodeError` naming the file."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise DecodeError("unreadable_video", f"{Path(path).name}: {err}") from err
    if not container.streams.video:
        container.close()
        raise DecodeError("no_video_stream", f"{Path(path).name} has no video stream")
    return container


def _first_frame(container, stream):
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, ValueError) as err:
        raise DecodeError("corrupt_video", f"cannot decode a frame: {err}") from err
    raise DecodeError("corrupt_video", "the video stream has no decodable frame")


def probe(path: str | Path) -> VideoInfo:
    """Read size, rotation, rate and duration; decodes the first frame to prove the stream is usable."""
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = int(stream.frames or round(duration * fps))
        first = _first_frame(container, stream)
        info = VideoInfo(
            width=first.width,
            height=first.height,
            rotation=normalize_rotation(getattr(first, "rotation", 0)),
            fps=fps,
            duration=duration,
            frames=frames,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )
    finally:
        container.close()
    if info.fps <= 0 or info.duration <= 0:
        raise DecodeError("corrupt_video", f"{Path(path).name}: no frame rate or duration ({info})")
    log.debug("probed %s: %s", path, info)
    return info
