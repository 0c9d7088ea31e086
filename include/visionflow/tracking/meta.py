"""Per-video track files, resumable segment by segment (formats.md 2.2).

``<yid>-meta.jsonl.gzip`` holds one JSON line per kept track, ``<yid>-progress.txt`` one ``yid-start-end`` line
per finished segment. After each segment the meta file is rewritten (atomically) and only then the progress
file, so a crash in between leaves records of an unfinished segment in the meta file: a rerun trusts only
records whose segment is listed as finished, and redoes the rest.
"""
from __future__ import annotations

import gzip
import io
import json
import logging

from include.visionflow.errors import BadRowError, DecodeError
from include.visionflow.manifest import ItemResult, Status
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)


def video_rel(video_dir: str, yid: str) -> str:
    return f"{video_dir}/{yid[:2]}/{yid}.mp4"


def segments_rel(yid: str) -> str:
    return f"videos_segm/{yid[:2]}/{yid}.txt"


def meta_rel(domain: str, yid: str) -> str:
    return f"tracks_meta/{domain}/{yid[:2]}/{yid}-meta.jsonl.gzip"


def progress_rel(domain: str, yid: str) -> str:
    return f"tracks_meta/{domain}/{yid[:2]}/{yid}-progress.txt"


def segment_key(yid: str, segment: tuple[float, float]) -> str:
    return f"{yid}-{segment[0]:.2f}-{segment[1]:.2f}"


def read_records(storage: Storage, rel: str) -> list[dict]:
    if not storage.exists(rel):
        return []
    with gzip.open(io.BytesIO(storage.read_bytes(rel)), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_records(storage: Storage, rel: str, records: list[dict]) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        for record in records:
            fh.write((json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"))
    storage.write_bytes(rel, buf.getvalue())


def finished_segments(storage: Storage, domain: str, yid: str) -> list[str]:
    rel = progress_rel(domain, yid)
    return storage.read_text(rel).split() if storage.exists(rel) else []


def track_video(row: dict, storage: Storage, cfg) -> ItemResult:
    from include.visionflow.models.detectors import cached_detector
    from include.visionflow.paths import safe_component
    from include.visionflow.tracking.sampling import open_video, read_segments, segment_frames
    from include.visionflow.tracking.tracks import keep_track, make_tracker, track_frames, track_record

    if row.get("error"):  # an index entry the plan refused: the reason steps 1-4 gave it, not "unsafe id ''"
        raise BadRowError.planned(row["error"])
    yid = safe_component(str(row.get("yid", "")), what="video id")
    if not storage.exists(segments_rel(yid)):
        raise DecodeError("no_segments", f"{segments_rel(yid)} is missing: the scene step has not kept this video")
    segments = read_segments(storage.read_text(segments_rel(yid)))
    meta = meta_rel(cfg.domain, yid)
    keys = [segment_key(yid, s) for s in segments]
    # Only segments still in the segments file count (the scene step may have been rerun with other settings);
    # progress without its meta file means nothing (the meta file was removed): start over.
    done = [k for k in finished_segments(storage, cfg.domain, yid) if k in keys] if storage.exists(meta) else []
    records = [r for r in read_records(storage, meta) if segment_key(yid, tuple(r["segment"])) in done]
    todo = [(k, s) for k, s in zip(keys, segments) if k not in done]
    if not todo:
        if not segments:  # every scene was filtered out: an empty, finished meta file
            write_records(storage, meta, [])
        return ItemResult(yid, Status.OK, output=meta, detail=f"{len(records)} tracks", reused=bool(segments))
    if not storage.exists(video_rel(cfg.detect_dir, yid)):
        raise DecodeError("no_video", f"{video_rel(cfg.detect_dir, yid)} is missing")
    detector = cached_detector(cfg.detector, cfg.detector_settings)
    tracker = make_tracker(cfg.fps)
    sampled = 0
    with storage.local_copy(video_rel(cfg.detect_dir, yid)) as path:
        container = open_video(path)
        try:
            for key, segment in todo:
                tracks, size, count = track_frames(segment_frames(container, *segment, cfg.fps), detector, tracker)
                sampled += count
                kept = [t for t in tracks if size and keep_track(t, size, cfg.min_track_len, cfg.min_track_area)]
                records.extend(track_record(yid, t, detector.labels, size, segment) for t in kept)
                write_records(storage, meta, records)
                done.append(key)
                storage.write_text(progress_rel(cfg.domain, yid), "\n".join(done) + "\n")
                log.info("%s segment %.2f-%.2f: %d of %d tracks kept", yid, *segment, len(kept), len(tracks))
        finally:
            container.close()
    return ItemResult(yid, Status.OK, output=meta, detail=f"{len(records)} tracks in {len(segments)} segments",
                      frames=sampled, duration=round(sum(e - s for s, e in segments), 3))
