"""Trim and resize videos to H.264 MP4 with PyAV (libx264), the work of mmaction2's ``download.py`` trim and
``resize_videos.py`` (formats.md 5.2, 5.3).

* :func:`trim_clip` keeps frames whose timestamp is in ``[start, end)`` (accurate, like ``ffmpeg -i IN -ss S
  -t D``: frames before ``start`` are decoded and dropped, the container is only *seeked* to the key frame
  before ``start``), at the source size.
* :func:`resize_video` scales so the *display* short side is N, for landscape and portrait alike (upstream's
  portrait branch is broken), optionally with a dense GOP (``-g 16``) for fast random access.

Rotated sources (display matrix) are turned upright, as the ffmpeg CLI does, so every consumer sees the same
picture. Trimmed clips keep the source's audio packets as they are (upstream's ``-c:a copy``) when MP4 can
carry them; resized copies have none (upstream's ``-an``).
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from include.visionflow.errors import BadInputError, DecodeError
from include.visionflow.video.prefetch import in_thread
from include.visionflow.video.probe import VideoInfo, normalize_rotation, open_video, target_size

log = logging.getLogger(__name__)

DENSE_GOP = 16  # mmaction2 resize_videos.py --dense: a key frame every 16 frames
EPSILON = 1e-6  # timestamps are rationals; a frame exactly at ``start`` belongs to the clip
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}  # codecs MP4 carries without re-encoding


@dataclass(frozen=True)
class ClipSpec:
    """What to produce: a time range (seconds from the file start), a short side, GOP and x264 settings."""

    start: float | None = None
    end: float | None = None
    short_side: int | None = None
    upscale: bool = True  # mmaction's resize upscales small videos too
    dense: bool = False
    keep_audio: bool = False  # upstream trims with -c:a copy, and resizes with -an
    crf: int = 23  # libx264's own defaults, as the ffmpeg CLI uses them
    preset: str = "medium"

    def __post_init__(self) -> None:
        if self.start is not None and self.start < 0:
            raise BadInputError(f"clip start {self.start} is negative")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise BadInputError(f"clip end {self.end} is not after start {self.start}")


class _Upright:
    """Scale (and rotate upright) decoded frames to the output size, as yuv420p for libx264."""

    def __init__(self, stream, rotation: int, size: tuple[int, int]):
        self.size, self.graph = size, None
        if rotation:
            self.graph = self._graph(stream, rotation, size)
        else:
            from av.video.reformatter import VideoReformatter

            self.scaler = VideoReformatter()  # one swscale context for the whole video

    @staticmethod
    def _graph(stream, rotation: int, size: tuple[int, int]):
        import av

        steps = {90: [("transpose", "cclock")], 270: [("transpose", "clock")], 180: [("hflip", ""), ("vflip", "")]}
        graph = av.filter.Graph()
        node = graph.add_buffer(template=stream)
        for name, args in [*steps[rotation], ("scale", f"{size[0]}:{size[1]}"), ("format", "yuv420p")]:
            nxt = graph.add(name, args) if args else graph.add(name)
            node.link_to(nxt)
            node = nxt
        sink = graph.add("buffersink")
        node.link_to(sink)
        graph.configure()
        return graph

    @classmethod
    def for_frame(cls, stream, frame, spec: ClipSpec) -> "_Upright":
        """Size and rotation from the first decoded frame (display size decides portrait or landscape)."""
        rotation = normalize_rotation(getattr(frame, "rotation", 0))
        width, height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
        return cls(stream, rotation, target_size(width, height, spec.short_side, upscale=spec.upscale, even=True))

    def __call__(self, frame):
        if self.graph is None:
            width, height = self.size
            return self.scaler.reformat(frame, width=width, height=height, format="yuv420p", threads=1)
        self.graph.push(frame)
        return self.graph.pull()


def _output_stream(container, stream, size: tuple[int, int], spec: ClipSpec):
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    out = container.add_stream("libx264", rate=rate)
    out.width, out.height = size
    out.pix_fmt = "yuv420p"
    out.time_base = stream.time_base
    # As the ffmpeg CLI: x264 picks the thread count, and FRAME|SLICE makes it use frame threads (PyAV's
    # default SLICE would switch x264 to sliced threads: slower, and a different bitstream).
    out.codec_context.thread_count = 0
    out.codec_context.thread_type = "AUTO"
    out.options = {"crf": str(spec.crf), "preset": spec.preset}
    if spec.dense:
        out.codec_context.gop_size = DENSE_GOP
    return out


def _seek(container, stream, start: float | None) -> None:
    """Jump to the key frame before ``start``; decoding from there drops the frames before ``start``."""
    if not start:
        return
    file_start = (container.start_time or 0) / 1_000_000
    target = int((start + file_start) / stream.time_base)
    container.seek(target, stream=stream, backward=True, any_frame=False)


def transcode(src: str | Path, dst: str | Path, spec: ClipSpec) -> VideoInfo:
    """Write ``src`` (optionally trimmed and resized) to ``dst`` as H.264 MP4; returns what was written.

    The source is opened once (no separate probe): the output size is decided on the first decoded frame,
    which also carries the display rotation."""
    import av

    container = open_video(src)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads for decoding, as the ffmpeg CLI
        audio = _audio_to_copy(container, spec)
        _seek(container, stream, spec.start)
        with av.open(str(dst), "w", format="mp4") as output:
            ostream, written = _copy_clip(container, stream, audio, output, spec)
            for packet in ostream.encode(None) if ostream is not None else ():
                output.mux(packet)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
    except av.error.FFmpegError as err:
        Path(dst).unlink(missing_ok=True)
        raise DecodeError("corrupt_video", f"{Path(src).name}: {err}") from err
    finally:
        container.close()
    if not written:
        Path(dst).unlink(missing_ok=True)
        raise DecodeError("empty_clip", f"{Path(src).name} has no frame in [{spec.start}, {spec.end})")
    # dst is usually a staging file; the caller logs the final path once the file is in place
    log.debug("encoded %s (%s frames, %sx%s) from %s", dst, written, ostream.width, ostream.height, src)
    return VideoInfo(width=ostream.width, height=ostream.height, rotation=0, fps=rate, duration=written / rate,
                     frames=written, codec="h264", has_audio=audio is not None)


def _audio_to_copy(container, spec: ClipSpec):
    """The first audio stream when it is kept and MP4 can carry it as is (``-c:a copy``), else None."""
    if not spec.keep_audio or not container.streams.audio:
        return None
    audio = container.streams.audio[0]
    if audio.codec_context.name not in MP4_AUDIO:
        log.info("dropping %s audio: MP4 cannot carry it without re-encoding", audio.codec_context.name)
        return None
    return audio


class _Window:
    """The clip's time window in source seconds; the origin is the first kept video frame."""

    def __init__(self, container, spec: ClipSpec):
        self.file_start = (container.start_time or 0) / 1_000_000
        self.start, self.end = spec.start or 0.0, spec.end
        self.origin: float | None = None  # absolute seconds of the first kept frame

    def seconds(self, pts, time_base) -> float | None:
        return None if pts is None else float(pts * time_base) - self.file_start

    def before(self, seconds: float | None) -> bool:
        return seconds is not None and seconds < self.start - EPSILON

    def after(self, seconds: float | None) -> bool:
        return seconds is not None and self.end is not None and seconds >= self.end - EPSILON

    def audio(self, packet):
        """The packet re-timed to the clip, or None when it falls outside the window."""
        seconds = self.seconds(packet.pts, packet.time_base)
        if seconds is None or self.origin is None or seconds < self.origin - EPSILON or self.after(seconds):
            return None
        shift = int(round((self.origin + self.file_start) / packet.time_base))
        packet.pts = packet.pts - shift
        packet.dts = packet.dts - shift if packet.dts is not None else packet.pts
        return packet


def _clip_items(container, stream, audio, spec: ClipSpec) -> Iterator[tuple[str, object]]:
    """("video", frame) for frames in ``[start, end)``, upright, scaled, timed from 0; ("audio", packet) for
    audio packets from the first kept frame to ``end``, timed on the same origin."""
    window, upright = _Window(container, spec), None
    waiting: list = []  # audio that arrives before the first kept frame is decoded (decoder delay)
    video_done = False
    for packet in container.demux(*[s for s in (stream, audio) if s is not None]):
        if packet.stream is not stream:
            if video_done and window.after(window.seconds(packet.pts, packet.time_base)):
                return  # both streams are past the end: the rest of a long source is never read
            waiting += [packet] if packet.size else []
            if window.origin is not None:
                yield from (("audio", p) for p in map(window.audio, waiting) if p is not None)
                waiting = []
            continue
        for frame in () if video_done else packet.decode():
            seconds = window.seconds(frame.pts, frame.time_base)
            if window.before(seconds):
                continue
            if window.after(seconds):
                video_done = True
                break
            if upright is None:
                upright, window.origin = _Upright.for_frame(stream, frame, spec), seconds or 0.0
                first_pts = frame.pts or 0
            out = upright(frame)
            out.pts, out.time_base = (frame.pts or 0) - first_pts, stream.time_base  # the clip starts at 0
            yield "video", out
        if video_done and audio is None:
            return


def _copy_clip(container, stream, audio, output, spec: ClipSpec):
    """Encode the clip's frames and copy its audio; the output streams are made on the first frame (its size
    is known only then), and audio waits for them. Returns (video stream, frames written)."""
    ostream, oaudio, held, written = None, None, [], 0
    with contextlib.closing(in_thread(_clip_items(container, stream, audio, spec))) as items:
        for kind, item in items:
            if kind == "audio":
                held.append(item)
            elif ostream is None:
                ostream = _output_stream(output, stream, (item.width, item.height), spec)
                oaudio = output.add_stream_from_template(audio) if audio is not None else None
            if kind == "video":
                for packet in ostream.encode(item):
                    output.mux(packet)
                written += 1
            while held and oaudio is not None:
                packet = held.pop(0)
                packet.stream = oaudio
                output.mux(packet)
    return ostream, written


def trim_clip(src: str | Path, dst: str | Path, start: float, end: float, *,
              short_side: int | None = None) -> VideoInfo:
    """Frames of ``src`` in ``[start, end)`` seconds to H.264 MP4 ``dst`` (source size unless ``short_side``)."""
    return transcode(src, dst, ClipSpec(start=start, end=end, short_side=short_side, keep_audio=True))


def resize_video(src: str | Path, dst: str | Path, short_side: int = 256, dense: bool = True) -> VideoInfo:
    """``src`` scaled so its display short side is ``short_side`` (both orientations), H.264, GOP 16 if dense."""
    return transcode(src, dst, ClipSpec(short_side=short_side, dense=dense))
