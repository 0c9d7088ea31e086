"""Extract JPEG frames from a video, at its native rate or at a constant rate, scaled to a short side.

Two consumers (formats.md 1.5 and 5.4):

* ``video_frames``: 10 fps, short side 256 only when larger (never upscale), ``%05d.jpg`` from 1;
* mmaction raw frames: every frame at native rate, short side 256 (upscaling too), ``img_%05d.jpg``, q95;
* AdaCLIP (formats.md 4.2): the frames ``ffmpeg -i IN [-r N] image_%05d.jpg`` writes, i.e. the CLI's
  output-rate timing (``cli_rate``, see vsync.py) and ``scale=-1:N`` rounding (``nearest``).

Speed matters (the benchmarks compare against ``ffmpeg -vf fps=10,scale=...``): only *selected* frames are
scaled (libswscale, straight to full-range YUV) and JPEG-encoded from the YUV planes (simplejpeg: libjpeg-turbo,
about half the CPU of ffmpeg's own mjpeg encoder, and no RGB round trip). ``threads`` > 1 (one video using
the cores) decodes with codec threads and encodes + writes in a small thread pool; ``threads=1`` (worker
processes already fill the cores) does everything in the calling thread: ~10% less CPU, as no frame is
handed between threads. Frames stream through; the video is never held in memory.
"""
from __future__ import annotations

import logging
import math
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from include.visionflow.errors import BadInputError, DecodeError
from include.visionflow.video.probe import normalize_rotation, open_video, target_size

log = logging.getLogger(__name__)


def _round_near(value: float) -> int:
    """Round half away from zero, like libavutil's AV_ROUND_NEAR_INF (Python's round() is half-to-even)."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


class RateSampler:
    """Constant-rate resampling by timestamps, with the semantics of ffmpeg's ``fps`` filter (round=near).

    Output tick ``n`` (time ``n / fps``) shows the latest input frame whose timestamp rounds to a tick ``<= n``:
    frames are dropped when the source is faster and repeated when it is slower. ``push`` returns how many
    times the *previous* frame must be emitted; ``finish`` does the same for the last frame, given the end
    time of the stream. Counting by timestamps (not frame index) keeps variable-rate videos correct.
    """

    def __init__(self, fps: float):
        if fps <= 0:
            raise BadInputError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.next_tick: int | None = None
        self.held = False

    def tick(self, seconds: float) -> int:
        return _round_near(seconds * self.fps)

    def push(self, seconds: float) -> int:
        """A new frame at ``seconds``: returns repeats of the previously held frame, then holds this one."""
        tick = self.tick(seconds)
        if self.next_tick is None:
            self.next_tick, self.held = tick, True
            return 0
        repeats = max(0, tick - self.next_tick)
        self.next_tick += repeats
        return repeats

    def finish(self, end_seconds: float) -> int:
        """End of stream at ``end_seconds`` (last frame time + its duration): repeats of the held frame."""
        if not self.held or self.next_tick is None:
            return 0
        repeats = max(0, self.tick(end_seconds) - self.next_tick)
        self.next_tick += repeats
        self.held = False
        return repeats


@dataclass(frozen=True)
class FrameOptions:
    """How frames are sampled, scaled and named. ``fps=None`` keeps every frame (native rate)."""

    fps: float | None = 10.0
    short_side: int | None = 256
    upscale: bool = False
    even: bool = True
    quality: int = 90
    pattern: str = "%05d.jpg"
    start_number: int = 1
    threads: int = 2  # 1: decode, encode and write in the calling thread; n > 1: codec threads + n encoders
    # Frame timing of the ffmpeg CLI's output rate (``-r``, or the native rate without it) instead of the fps
    # filter's; and odd sizes rounded to nearest like ``scale=-1:N`` (AdaCLIP's extractor does both).
    cli_rate: bool = False
    nearest: bool = False

    def __post_init__(self) -> None:
        if self.fps is not None and self.fps <= 0:
            raise BadInputError(f"fps must be positive or None (native rate), got {self.fps}")
        if not 1 <= self.quality <= 100:
            raise BadInputError(f"JPEG quality must be in 1..100, got {self.quality}")
        try:
            name = self.pattern % self.start_number
        except (TypeError, ValueError) as err:
            raise BadInputError(f"frame name pattern {self.pattern!r} needs one integer field like %05d") from err
        if "/" in name or "\\" in name or name.startswith("."):
            raise BadInputError(f"frame name pattern {self.pattern!r} must name a plain file")


def _timed_frames(container, stream) -> Iterator[tuple[object, float, float]]:
    """(frame, seconds from file start, frame duration) for every decoded frame."""
    import av

    start = (container.start_time or 0) / 1_000_000
    default_duration = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
    index = 0
    try:
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base is not None:
                seconds = float(frame.pts * frame.time_base) - start
            else:  # no timestamps at all: fall back to the nominal rate
                seconds = index * default_duration
            duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
            index += 1
            yield frame, seconds, duration or default_duration
    except av.error.FFmpegError as err:
        raise DecodeError("corrupt_video", f"decoding failed after {index} frames: {err}") from err


class _JpegWriter:
    """Scale, rotate and encode selected frames, in a bounded thread pool or (threads=1) in the caller."""

    def __init__(self, out_dir: Path, options: FrameOptions, rotation: int):
        self.out_dir, self.options, self.rotation = out_dir, options, rotation
        self.size: tuple[int, int] | None = None
        self.count = 0
        workers = options.threads
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vf-jpeg") if workers > 1 else None
        self.pending: deque[Future] = deque()
        self.depth = 4 * workers  # frames in flight: bounds memory whatever the video length

    def _coded_size(self, frame) -> tuple[int, int]:
        width, height = (frame.height, frame.width) if self.rotation in (90, 270) else (frame.width, frame.height)
        opts = self.options
        out_w, out_h = target_size(width, height, opts.short_side, upscale=opts.upscale, even=opts.even,
                                   nearest=opts.nearest)
        return (out_h, out_w) if self.rotation in (90, 270) else (out_w, out_h)

    def write(self, frame, repeats: int) -> None:
        """Encode ``frame`` once and write it ``repeats`` times under consecutive names."""
        if repeats <= 0:
            return
        if self.size is None:
            self.size = self._coded_size(frame)
        names = [self.options.pattern % (self.options.start_number + self.count + i) for i in range(repeats)]
        self.count += repeats
        job = (frame, self.size, self.rotation, self.options.quality, self.out_dir, names)
        if self.pool is None:
            _render(*job)
            return
        self.pending.append(self.pool.submit(_render, *job))
        while len(self.pending) > self.depth:  # wait for the oldest
            self.pending.popleft().result()

    def close(self) -> None:
        if self.pool is None:
            return
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


_local = threading.local()


def _reformatter():
    """One libswscale context per worker thread: ``frame.reformat`` would rebuild it for every frame."""
    if not hasattr(_local, "reformatter"):
        from av.video.reformatter import VideoReformatter

        _local.reformatter = VideoReformatter()
    return _local.reformatter


def _render(frame, size: tuple[int, int], rotation: int, quality: int, out_dir: Path, names: list[str]) -> None:
    """Scale, encode once, write under every name (repeats of a held frame share one encode)."""
    data = _encode_jpeg(_scaled_planes(frame, size, rotation), quality)
    for name in names:
        with open(out_dir / name, "wb") as fh:
            fh.write(data)


def _interpolation(frame, size: tuple[int, int], rotation: int) -> str:
    """AREA (pixel averaging) when shrinking: sharper than bilinear for 2x+ reductions and ~25% cheaper in
    libswscale; BILINEAR when enlarging (mmaction's raw frames upscale small videos with bilinear)."""
    return "AREA" if size[0] * size[1] < frame.width * frame.height else "BILINEAR"


def _scaled_planes(frame, size: tuple[int, int], rotation: int):
    """Full-range YUV 4:2:0 planes at ``size`` (libswscale), rotated upright; RGB array for odd sizes."""
    import numpy as np

    width, height = size
    scaler = _reformatter()
    interpolation = _interpolation(frame, size, rotation)
    if width % 2 or height % 2:
        rgb = scaler.reformat(frame, width=width, height=height, format="rgb24", interpolation=interpolation,
                              threads=1).to_ndarray()
        return (np.ascontiguousarray(np.rot90(rgb, rotation // 90)),) if rotation else (rgb,)
    scaled = scaler.reformat(frame, width=width, height=height, format="yuv420p", dst_color_range="JPEG",
                             interpolation=interpolation, threads=1)
    planes = []
    for plane in scaled.planes:
        array = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        planes.append(np.ascontiguousarray(np.rot90(array, rotation // 90) if rotation else array))
    return tuple(planes)


def _encode_jpeg(planes, quality: int) -> bytes:
    try:
        import simplejpeg
    except ImportError:  # Pillow fallback: slower, same result
        return _encode_with_pillow(planes, quality)
    if len(planes) == 1:
        return simplejpeg.encode_jpeg(planes[0], quality=quality, colorspace="RGB")
    return simplejpeg.encode_jpeg_yuv_planes(*planes, quality=quality)


def _encode_with_pillow(planes, quality: int) -> bytes:
    import io

    from PIL import Image

    if len(planes) == 1:
        image = Image.fromarray(planes[0], "RGB")
    else:
        y, u, v = planes
        size = (y.shape[1], y.shape[0])
        chroma = [Image.fromarray(p, "L").resize(size, Image.Resampling.BILINEAR) for p in (u, v)]
        image = Image.merge("YCbCr", [Image.fromarray(y, "L"), *chroma])
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def extract_frames(
    src: str | Path,
    out_dir: str | Path,
    fps: float | None = 10.0,
    short_side: int | None = 256,
    quality: int = 90,
    pattern: str = "%05d.jpg",
    *,
    upscale: bool = False,
    even: bool = True,
    start_number: int = 1,
    threads: int = 2,
) -> int:
    """Write frames of ``src`` into the existing directory ``out_dir``; returns the number of frames.

    ``fps=None`` keeps every frame. Frame counts match ``ffmpeg -vf fps=<fps>`` on the same file.
    """
    options = FrameOptions(fps, short_side, upscale, even, quality, pattern, start_number, threads)
    return extract_with(src, Path(out_dir), options)


def _exact_frames(container, stream) -> Iterator[tuple[object, Fraction, Fraction]]:
    """(frame, seconds from file start, duration) as exact fractions, timed as the ffmpeg CLI times them."""
    import av

    time_base = stream.time_base
    offset = _round_near(Fraction(container.start_time or 0, 1_000_000) / time_base)  # in stream ticks
    default = 1 / Fraction(stream.guessed_rate or stream.average_rate or 25)
    seconds, index = Fraction(0), 0
    try:
        for frame in container.decode(stream):
            tb = frame.time_base or time_base
            if frame.pts is not None:
                seconds = (frame.pts - offset) * tb
            elif index:
                seconds += default
            duration = frame.duration * tb if frame.duration else default
            index += 1
            yield frame, seconds, duration
    except av.error.FFmpegError as err:
        raise DecodeError("corrupt_video", f"decoding failed after {index} frames: {err}") from err


class _FilterTiming:
    """Every frame (native rate), or the fps filter's choice of frames (:class:`RateSampler`)."""

    def __init__(self, options: FrameOptions):
        self.sampler = RateSampler(options.fps) if options.fps else None
        self.held, self.end = None, 0.0

    def frame(self, writer: "_JpegWriter", frame, seconds: float, duration: float) -> None:
        self.end = max(self.end, seconds + duration)
        if self.sampler is None:
            writer.write(frame, 1)
            return
        repeats = self.sampler.push(seconds)
        if self.held is not None:
            writer.write(self.held, repeats)
        self.held = frame

    def finish(self, writer: "_JpegWriter") -> None:
        if self.sampler is not None and self.held is not None:
            writer.write(self.held, self.sampler.finish(self.end))


class _CliTiming:
    """Frames repeated or dropped exactly as ``ffmpeg -i IN [-r N] OUT/%05d.jpg`` does (see vsync.py)."""

    def __init__(self, options: FrameOptions, stream, single_stream: bool):
        from include.visionflow.video.vsync import CliRateSync

        rate = Fraction(repr(float(options.fps))) if options.fps else Fraction(stream.guessed_rate or 25)
        self.sync, self.last = CliRateSync(rate, single_stream), None

    def frame(self, writer: "_JpegWriter", frame, seconds: Fraction, duration: Fraction) -> None:
        before, now = self.sync.push(seconds, duration)
        writer.write(self.last, before)
        writer.write(frame, now)
        self.last = frame

    def finish(self, writer: "_JpegWriter") -> None:
        if self.last is not None:
            writer.write(self.last, self.sync.finish())


def extract_with(src: str | Path, out_dir: Path, options: FrameOptions) -> int:
    container = open_video(src)
    writer: _JpegWriter | None = None
    try:
        stream = container.streams.video[0]
        if options.threads > 1:
            stream.thread_type = "AUTO"  # frame + slice threads: decoding is most of the work
        else:
            stream.thread_count = 1  # PyAV's default (0) starts slice threads, one per core
        if options.cli_rate:
            frames = _exact_frames(container, stream)
            timing = _CliTiming(options, stream, single_stream=len(container.streams) == 1)
        else:
            frames = _timed_frames(container, stream)
            timing = _FilterTiming(options)
        for frame, seconds, duration in frames:
            if writer is None:
                writer = _JpegWriter(out_dir, options, normalize_rotation(getattr(frame, "rotation", 0)))
            timing.frame(writer, frame, seconds, duration)
        if writer is None:
            raise DecodeError("corrupt_video", f"{Path(src).name}: no decodable frame")
        timing.finish(writer)
    finally:
        container.close()
        if writer is not None:
            writer.close()
    # out_dir is usually a staging folder; the caller logs the published folder
    log.debug("extracted %s frames from %s into %s", writer.count, src, out_dir)
    return writer.count
