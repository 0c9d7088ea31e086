"""Kinetics-400/600/700 in the mmaction2 layout (formats.md 5; seed 002), as a recipe of engine parts.

Stages, each a function the DAG maps over shards:

1. :func:`fetch_annotations` — a tar.gz (``<DS>/{train,validate,test}.csv``) or a folder URL/path with the
   three CSVs → ``annotations/kinetics_{train,val,test}.csv``; :func:`plan` cuts the requested splits into
   shards (``limit`` rows per split for trials).
2. :func:`clips_shard` — raw video (``youtube`` / ``url_template`` / ``local_dir``) trimmed to
   ``[time_start, time_end)`` as H.264: ``videos_<split>/<class>/<ytid>_<%06d>_<%06d>.mp4``.
3. :func:`dense_shard` — ``videos_<split>_<N>p_dense_cache/`` (short side N, GOP 16), same layout.
4. :func:`rawframes_shard` — ``rawframes_<split>/<class>/<stem>/img_%05d.jpg``, every frame, short side N.

Lists and the download report are in :mod:`include.visionflow.datasets.kinetics_lists`. Every row ends with
one manifest row per stage; outputs appear only complete (rename), so reruns skip what exists.
"""
from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from include.visionflow.archives import find_members
from include.visionflow.errors import BadInputError, BadRowError, FetchError
from include.visionflow.formats.mmaction import (RAWFRAME_PATTERN, RAWFRAME_QUALITY, clip_key, label_first_csv,
                                                seconds_field)
from include.visionflow.inputs import is_local_path, local_input
from include.visionflow.manifest import ItemResult, ShardStats, Status, read_manifest
from include.visionflow.paths import safe_component
from include.visionflow.shards import ShardSpec, iter_csv, process_shard, write_shards
from include.visionflow.storage import Storage
from include.visionflow.video.publish import video_is_done
from include.visionflow.video.sources import VideoSource

log = logging.getLogger(__name__)

DATASETS = ("kinetics400", "kinetics600", "kinetics700")
SPLITS = ("train", "val", "test")
SOURCE_FILES = {"train": "train.csv", "val": "validate.csv", "test": "test.csv"}  # upstream renames these
SHARD_COLUMNS = ["key", "split", "label", "youtube_id", "time_start", "time_end", "error"]
MAX_CSV_BYTES = 256 << 20  # the real CSVs are ~20 MB; they are read into memory
MAX_VIDEO_BYTES = 8 << 30  # a raw video is downloaded whole before trimming
CLIPS_PER_SHARD = 25  # a clip is seconds of work (fetch, two encodes, frames): small shards balance better


def annotation_rel(split: str) -> str:
    return f"annotations/kinetics_{split}.csv"


def original_rel(split: str) -> str:
    """Where the CSV as downloaded is kept when ``annotation_rel`` had to be rewritten for mmaction2."""
    return f"annotations/original/{SOURCE_FILES[split]}"


def clip_rel(split: str, key: str) -> str:
    return f"videos_{split}/{key}.mp4"


def dense_rel(split: str, key: str, short_side: int) -> str:
    return f"videos_{split}_{short_side}p_dense_cache/{key}.mp4"


def rawframes_rel(split: str, key: str) -> str:
    return f"rawframes_{split}/{key}"


@dataclass(frozen=True)
class KineticsConfig:
    """Run settings shared by the stages (validated once, at the start of each task)."""

    dataset: str = "kinetics400"
    source: VideoSource | None = None
    short_side: int = 256
    threads: int = 2  # clips in parallel per shard: each encode already uses several threads

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise BadInputError(f"dataset must be one of {DATASETS}, not {self.dataset!r}")
        if not 16 <= self.short_side <= 4096:
            raise BadInputError(f"short_side {self.short_side} must be within 16..4096")


def check_splits(splits: list[str]) -> list[str]:
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise BadInputError(f"splits must be a non-empty subset of {SPLITS}, got {splits}")
    return list(dict.fromkeys(splits))


# --- 1. annotations and plan -------------------------------------------------------------------------------


def _read_tarball(path: Path) -> dict[str, bytes]:
    """The split CSVs inside a Kinetics tarball, read in memory: nothing is extracted to disk, so member
    names (``../``, links) cannot write anywhere. Upstream's ``tar --strip-components 1`` = match basenames;
    a second ``train.csv`` anywhere in the tarball is an error naming both, never a silent replacement."""
    wanted = {name: split for split, name in SOURCE_FILES.items()}
    return find_members(path, lambda name: wanted.get(PurePosixPath(name).name), MAX_CSV_BYTES)


def _read_folder(url: str, work: Path, fetcher) -> dict[str, bytes]:
    """The three CSVs from a folder URL or local folder; absent files are simply not returned."""
    found: dict[str, bytes] = {}
    for split, name in SOURCE_FILES.items():
        if is_local_path(url):
            local = local_input(url, "annotations_url") / name
            if local.is_file():
                if local.stat().st_size > MAX_CSV_BYTES:
                    raise BadInputError(f"annotations {local} is over {MAX_CSV_BYTES >> 20} MB; not a Kinetics CSV")
                found[split] = local.read_bytes()
            continue
        try:
            fetcher.download_to(url.rstrip("/") + "/" + name, work / name)
        except FetchError as err:
            log.warning("no %s under %s: %s", name, url, err)
            continue
        found[split] = (work / name).read_bytes()
    return found


def _download_annotations(url: str, work: Path, fetcher) -> dict[str, bytes]:
    if is_local_path(url):
        path = local_input(url, "annotations_url")
        if path.is_dir():
            return _read_folder(url, work, fetcher)
        if path.is_file():
            return _read_tarball(path)
        raise BadInputError(f"annotations_url {url!r} is neither a folder nor a file")
    if url.endswith("/"):
        return _read_folder(url, work, fetcher)
    local = work / "annotations.tar.gz"
    try:
        fetcher.download_to(url, local)
    except FetchError as err:
        raise BadInputError(f"cannot download annotations {url}: {err}. Check annotations_url.") from None
    return _read_tarball(local)


def fetch_annotations(storage: Storage, url: str, splits: list[str], fetcher=None) -> dict[str, str]:
    """``annotations/kinetics_<split>.csv`` for train (labels come from it) and every requested split.

    Skipped when the files are there and came from the same URL (``annotations/source.json``)."""
    splits = check_splits(splits)
    needed = sorted({"train", *splits})
    marker = "annotations/source.json"
    if storage.exists(marker) and json.loads(storage.read_text(marker)).get("url") == url and all(
        storage.exists(annotation_rel(s)) for s in needed
    ):
        log.info("annotations from %s already present", url)
        return {s: annotation_rel(s) for s in needed}
    if fetcher is None:
        from include.visionflow.fetch.http import METADATA_DEADLINE, Fetcher, FetchConfig

        fetcher = Fetcher(FetchConfig(total_timeout=METADATA_DEADLINE, opt_out=()))
    with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        found = _download_annotations(url, Path(tmp), fetcher)
    missing = [s for s in needed if s not in found]
    if missing:
        raise BadInputError(f"annotations {url} lack {[SOURCE_FILES[s] for s in missing]}; found {sorted(found)}")
    for split, data in found.items():
        readable = label_first_csv(data)  # what mmaction2's parse_kinetics_splits reads (test.csv has no label)
        if readable != data:
            storage.write_bytes(original_rel(split), data)
        storage.write_bytes(annotation_rel(split), readable)
    storage.write_text(marker, json.dumps({"url": url, "splits": sorted(found)}))
    return {s: annotation_rel(s) for s in needed}


def plan_row(raw: dict, split: str) -> dict:
    """A shard row: the clip key, or why the row cannot become a clip (``error`` = ``<reason>: <detail>``)."""
    ytid = (raw.get("youtube_id") or "").strip()
    row = {"split": split, "label": (raw.get("label") or "").strip(), "youtube_id": ytid,
           "time_start": raw.get("time_start", ""), "time_end": raw.get("time_end", ""), "error": "", "key": ""}
    try:
        start, end = seconds_field(row["time_start"]), seconds_field(row["time_end"])
        if not (0 <= float(row["time_start"]) < float(row["time_end"])):
            row["error"] = f"bad_time_range: [{start}, {end}) is empty or negative"
    except BadInputError as err:
        row["error"] = f"bad_time_range: {err}"
    try:
        row["key"] = clip_key(row["label"], ytid or "?", row["time_start"] or 0, row["time_end"] or 0)
        if not ytid:
            row["error"] = row["error"] or "bad_youtube_id: empty youtube_id"
    except BadInputError as err:  # unusable label or id: refused, keyed by what we have
        row["error"] = row["error"] or f"bad_name: {err}"
        row["key"] = f"invalid/{ytid}_{row['time_start']}_{row['time_end']}"
    return row


def _rows(storage: Storage, split: str, limit: int | None) -> Iterator[dict]:
    with storage.local_copy(annotation_rel(split)) as path:
        for number, raw in enumerate(iter_csv(path, required=("youtube_id", "time_start", "time_end"))):
            if limit is not None and number >= limit:
                return
            yield plan_row(raw, split)


def plan(storage: Storage, work_rel: str, splits: list[str], limit: int | None = None,
         per_shard: int = CLIPS_PER_SHARD) -> list[ShardSpec]:
    """Shards of clip rows for each split, under ``<work_rel>/<split>/shards/``."""
    specs: list[ShardSpec] = []
    for split in check_splits(splits):
        rows = _rows(storage, split, limit)
        specs += write_shards(storage, f"{work_rel}/{split}", rows, per_shard, SHARD_COLUMNS, label=split,
                              first_id=len(specs))
    log.info("planned %s shards: %s", len(specs), {s: sum(x.count for x in specs if x.label == s) for s in splits})
    return specs


def stage_spec(spec: ShardSpec, stage: str) -> ShardSpec:
    """The same rows, with the manifest and stats of one stage (``clips``, ``dense``, ``rawframes``)."""
    return spec.for_stage(stage)


# --- 2.-4. per-clip stages --------------------------------------------------------------------------------


def _encode_to(storage: Storage, rel: str, key: str, make: Callable[[Path], object]) -> ItemResult:
    """Run ``make(tmp_path)`` in staging and move the result to ``rel``."""
    with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        out = Path(tmp, "out.mp4")
        info = make(out)
        size = out.stat().st_size
        storage.put_file(rel, out)
    width, height = info.display_size  # type: ignore[attr-defined]
    log.info("wrote %s (%sx%s, %s bytes)", storage.uri(rel), width, height, size)
    return ItemResult(key, Status.OK, output=rel, bytes=size, width=width, height=height,
                      duration=getattr(info, "duration", None))


def clip_item(row: dict, storage: Storage, config: KineticsConfig, fetcher=None) -> ItemResult:
    """One row: refuse bad rows, skip done clips, else fetch the raw video and trim it."""
    from include.visionflow.video.clip import trim_clip

    key, split = row["key"], row["split"]
    if row["error"]:
        reason, _, detail = row["error"].partition(": ")
        raise BadRowError(reason, detail)
    youtube_id = safe_component(row["youtube_id"], "youtube id")  # sources build file names from it
    rel = clip_rel(split, key)
    if video_is_done(storage, rel):
        return ItemResult(key, Status.OK, output=rel, reused=True)
    with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        raw = config.source.fetch(youtube_id, Path(tmp), fetcher)  # type: ignore[union-attr]
        start, end = float(row["time_start"]), float(row["time_end"])
        return _encode_to(storage, rel, key, lambda out: trim_clip(raw, out, start, end))


def _run_stage(storage: Storage, spec: ShardSpec, stage: str, config: KineticsConfig,
               work: Callable[[dict], ItemResult]) -> ShardStats:
    return process_shard(storage, spec, work, threads=config.threads, stage=stage, log_name=f"kinetics {stage}")


def video_fetcher():
    """A fetcher for raw videos: full YouTube-length files are far above the image default of 64 MB."""
    from include.visionflow.fetch.http import VIDEO_DEADLINE, Fetcher, FetchConfig

    return Fetcher(FetchConfig(max_bytes=MAX_VIDEO_BYTES, read_timeout=120.0, per_host=4,
                               total_timeout=VIDEO_DEADLINE))


def clips_shard(storage: Storage, spec: ShardSpec, config: KineticsConfig, fetcher=None) -> ShardStats:
    if config.source is None:
        raise BadInputError("a video source is needed to make clips")
    if fetcher is None and config.source.kind == "url_template":
        fetcher = video_fetcher()  # one pooled fetcher per shard, shared by its threads
    return _run_stage(storage, spec, "clips", config, lambda r: clip_item(r, storage, config, fetcher))


def clip_results(storage: Storage, spec: ShardSpec) -> dict[str, ItemResult]:
    """The clips stage's rows of a shard, by key."""
    return {r.key: r for r in read_manifest(storage, stage_spec(spec, "clips").manifest_rel)}


def _needs_clip(row: dict, clips: dict[str, ItemResult]) -> ItemResult | None:
    """A row whose clip failed keeps the clip's status in later stages (one row per item per stage)."""
    clip = clips.get(row["key"])
    if clip is None:
        return ItemResult.failed(row["key"], Status.FAILED_DOWNLOAD, "no_clip", "clips stage has no row")
    if clip.status is not Status.OK:
        return ItemResult.failed(row["key"], clip.status, clip.reason, f"no clip: {clip.detail}")
    return None


def dense_item(row: dict, storage: Storage, config: KineticsConfig, clips: dict[str, ItemResult]) -> ItemResult:
    from include.visionflow.video.clip import resize_video

    failed = _needs_clip(row, clips)
    if failed:
        return failed
    key, split = row["key"], row["split"]
    rel = dense_rel(split, key, config.short_side)
    if video_is_done(storage, rel):
        return ItemResult(key, Status.OK, output=rel, reused=True)
    with storage.local_copy(clip_rel(split, key)) as src:
        return _encode_to(storage, rel, key, lambda out: resize_video(src, out, config.short_side, dense=True))


def dense_shard(storage: Storage, spec: ShardSpec, config: KineticsConfig) -> ShardStats:
    clips = clip_results(storage, spec)
    return _run_stage(storage, spec, "dense", config, lambda r: dense_item(r, storage, config, clips))


def rawframes_item(row: dict, storage: Storage, config: KineticsConfig,
                   clips: dict[str, ItemResult]) -> ItemResult:
    from include.visionflow.video.frames import extract_frames
    from include.visionflow.video.publish import publish_folder, published_count, staging_folder

    failed = _needs_clip(row, clips)
    if failed:
        return failed
    key, split = row["key"], row["split"]
    rel = rawframes_rel(split, key)
    done = published_count(storage, rel)
    if done:
        return ItemResult(key, Status.OK, output=rel, frames=done, reused=True)
    with storage.local_copy(clip_rel(split, key)) as src, staging_folder(storage) as folder:
        # mmaction build_rawframes: every frame, short side N (upscaling too), long side int(), q95
        extract_frames(src, folder, fps=None, short_side=config.short_side, quality=RAWFRAME_QUALITY,
                       pattern=RAWFRAME_PATTERN, upscale=True, even=False)
        size = sum(p.stat().st_size for p in folder.iterdir())
        count = publish_folder(storage, folder, rel)
    return ItemResult(key, Status.OK, output=rel, bytes=size, frames=count)


def rawframes_shard(storage: Storage, spec: ShardSpec, config: KineticsConfig) -> ShardStats:
    clips = clip_results(storage, spec)
    return _run_stage(storage, spec, "rawframes", config, lambda r: rawframes_item(r, storage, config, clips))

