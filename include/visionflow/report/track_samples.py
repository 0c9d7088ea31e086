"""TrackVerse samples for the report: tracked boxes drawn on frames, blurred faces next to the originals.

Frames are decoded at a track's own timestamps (``track_ts``, seconds in the source video) from
``videos_mp4`` (what the detector saw; boxes are in its pixels) and, for the pairs, from ``videos_blurred``
at the same time. Only a handful of tracks are drawn, so this stays a few dozen decoded frames per report.
"""
from __future__ import annotations

import io
import logging

from include.visionflow.errors import DecodeError
from include.visionflow.report.publish import spread
from include.visionflow.report.sheets import Sheet
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

TRACKS = 4
FRAMES_PER_TRACK = 4
BOX_COLOUR = (255, 64, 0)
MARGIN = 0.5  # crop: the box grown by half its size on every side


def frames_at(storage: Storage, rel: str, times: list[float]) -> list:
    """RGB frames (numpy) of the video ``rel`` at or just after each time, in order; a time past the end
    gives no frame."""
    from include.visionflow.tracking.sampling import open_video, segment_frames

    found = []
    with storage.local_copy(rel) as path:
        container = open_video(path)
        try:
            for t in times:
                frame = next(segment_frames(container, t, t + 1.0, 1.0), None)
                if frame is not None:
                    found.append(frame[1])
        finally:
            container.close()
    return found


def _jpeg(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _boxed(frame, box: list[float]) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    x, y, w, h = box
    width = max(2, image.width // 160)
    ImageDraw.Draw(image).rectangle([x, y, x + w, y + h], outline=BOX_COLOUR, width=width)
    return _jpeg(image)


def _crop(frame, box: list[float]) -> bytes:
    from PIL import Image

    image = Image.fromarray(frame)
    x, y, w, h = box
    left, top = max(0, x - MARGIN * w), max(0, y - MARGIN * h)
    right, bottom = min(image.width, x + (1 + MARGIN) * w), min(image.height, y + (1 + MARGIN) * h)
    return _jpeg(image.crop((int(left), int(top), int(right), int(bottom))))


def _label(record: dict) -> str:
    return (record.get("top10_desc") or ["?"])[0]


def _sampled(records: list[dict]) -> list[dict]:
    return spread([r for r in records if r.get("track_ts") and r.get("track_bbox")], TRACKS)


def tracked_boxes(storage: Storage, records: list[dict], video_rel) -> Sheet:
    """One row per sampled track: frames spread over the track with its box drawn."""
    rows, captions = [], []
    for record in _sampled(records):
        picks = spread(list(range(len(record["track_ts"]))), FRAMES_PER_TRACK)
        try:
            frames = frames_at(storage, video_rel(record["yid"]), [record["track_ts"][i] for i in picks])
        except (DecodeError, OSError) as err:
            log.warning("report: no frames of %s: %s", record["yid"], err)
            continue
        if frames:
            rows.append([_boxed(f, record["track_bbox"][i]) for f, i in zip(frames, picks)])
            length = record["track_ts"][-1] - record["track_ts"][0]
            captions.append(f"{record['yid']} {_label(record)} ({length:.1f} s)")
    return Sheet("Tracked boxes on sampled frames", rows, captions=captions, cell=160)


def blur_pairs(storage: Storage, records: list[dict], video_rel, blurred_rel) -> Sheet:
    """One row per sampled track of a blurred video: the original crop around the box, then the same crop
    of the blurred video's frame at the same time, then both whole frames."""
    rows, captions = [], []
    for record in _sampled([r for r in records if storage.exists(blurred_rel(r["yid"]))]):
        middle = len(record["track_ts"]) // 2
        t, box = record["track_ts"][middle], record["track_bbox"][middle]
        try:
            original = frames_at(storage, video_rel(record["yid"]), [t])
            blurred = frames_at(storage, blurred_rel(record["yid"]), [t])
        except (DecodeError, OSError) as err:
            log.warning("report: no frame pair of %s: %s", record["yid"], err)
            continue
        if original and blurred:
            rows.append([_crop(original[0], box), _crop(blurred[0], box), _boxed(original[0], box),
                         _boxed(blurred[0], box)])
            captions.append(f"{record['yid']} at {t:.2f} s: original | blurred (crop, then whole frame)")
    return Sheet("Blurred faces next to the originals", rows, captions=captions, cell=160)
