"""Videos → JPEG frames at a fixed rate (formats.md 1.5; seed 000: Kinetics-400 and Krishna-CAM at 10 fps).

Every video under ``video_dir`` (recursively) becomes ``<frames_dir>/<relative path without extension>/``
with frames named by ``pattern`` from 1 (``00001.jpg``), at ``fps`` (constant rate by timestamps, as
``ffmpeg -r 10``), the short side scaled to ``short_side`` only when larger (never upscaled), portrait and
landscape alike. A file list of ``<relative dir> <nframes>`` lines is written at the end.

Departures from upstream ``convert_video_to_frames.py``, on purpose: the relative folder is kept (upstream
flattens to the base name, so equal names in different folders collide); portrait videos work (upstream's
portrait branch has no ``-vf``); folder names are made safe (spaces → ``_``) so list lines stay
two-field; and the list is generated, not downloaded.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path, PurePosixPath

from include.visionflow.errors import BadInputError, BadRowError
from include.visionflow.manifest import ItemResult, ShardStats, Status, read_manifest
from include.visionflow.paths import safe_relpath
from include.visionflow.shards import ShardSpec, balanced_rows, process_shard, write_shards
from include.visionflow.storage import Storage
from include.visionflow.video.frames import FrameOptions, extract_with
from include.visionflow.video.probe import work_estimate
from include.visionflow.video.publish import publish_folder, published_count, staging_folder

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
SHARD_COLUMNS = ["key", "src", "error"]
VIDEOS_PER_SHARD = 50
FILELIST = "filelist.txt"


def frame_options(fps: float = 10.0, short_side: int = 256, pattern: str = "%05d.jpg", quality: int = 90,
                  threads: int = 2) -> FrameOptions:
    """The ``video_frames`` defaults: fixed rate, short side only when larger, even sizes like ``-2``."""
    return FrameOptions(fps=fps, short_side=short_side, upscale=False, even=True, quality=quality,
                        pattern=pattern, threads=threads)


def discover(video_dir: str | Path) -> list[tuple[str, str, str]]:
    """(source path relative to ``video_dir``, output folder key, error) for every video, sorted by key.

    Keys are the relative path without its extension (spaces -> ``_``); when two videos would share a key
    (``a/x.mp4`` and ``a/x.avi``), or a key is also a folder of videos, the extension is appended
    (``a/x_avi``). A file whose name cannot be a folder name keeps its source path as key and an error, so
    it is counted as a bad row instead of stopping the plan."""
    from include.visionflow.inputs import local_input

    root = Path(video_dir)
    local_input(root, "video_dir")
    if not root.is_dir():
        raise BadInputError(f"video_dir {video_dir!r} is not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(VIDEO_SUFFIXES) and not name.startswith("."):
                found.append(PurePosixPath(Path(dirpath, name).relative_to(root).as_posix()))
    keys: dict[str, list[PurePosixPath]] = {}
    bad = []
    for rel in found:
        try:
            keys.setdefault(safe_relpath(str(rel.with_suffix("")), what="video path"), []).append(rel)
        except BadRowError as err:
            bad.append((str(rel), repr(str(rel)), f"{err.reason}: {err.detail}"))
    # A key that is also a folder of other keys (``a.mp4`` next to ``a/b.mp4``) would hold their frames.
    parents = {str(p) for key in keys for p in PurePosixPath(key).parents}
    rows = []
    for key, rels in keys.items():
        for rel in rels:
            clash = len(rels) > 1 or key in parents
            rows.append((str(rel), f"{key}_{rel.suffix.lstrip('.').lower()}" if clash else key, ""))
    if len({k for _, k, _ in rows}) != len(rows):
        raise BadInputError(f"video names under {video_dir} collide even with extensions; rename them")
    return sorted(rows + bad, key=lambda p: p[1])


def plan(storage: Storage, work_rel: str, video_dir: str | Path, per_shard: int = VIDEOS_PER_SHARD) -> list[ShardSpec]:
    found = discover(video_dir)
    if not found:
        log.warning("no videos (%s) under %s", ", ".join(VIDEO_SUFFIXES), video_dir)
    rows = [{"key": key, "src": src, "error": error} for src, key, error in found]
    rows = balanced_rows(rows, per_shard, lambda r: 0 if r["error"] else work_estimate(Path(video_dir, r["src"])))
    specs = write_shards(storage, work_rel, rows, per_shard, SHARD_COLUMNS, label="frames")
    log.info("%s videos in %s shards", len(found), len(specs))
    return specs


def extract_item(row: dict, storage: Storage, video_dir: str | Path, options: FrameOptions) -> ItemResult:
    """One video: skip a complete folder, else extract into staging and publish the folder at once."""
    key = row["key"]
    if row.get("error"):
        reason, _, detail = row["error"].partition(": ")
        raise BadRowError(reason, detail)
    done = published_count(storage, key)
    if done:
        return ItemResult(key, Status.OK, output=key, frames=done, reused=True)
    src = Path(video_dir, row["src"])
    with staging_folder(storage) as folder:
        count = extract_with(src, folder, options)
        size = sum(p.stat().st_size for p in folder.iterdir())
        publish_folder(storage, folder, key)
    return ItemResult(key, Status.OK, output=key, bytes=size, frames=count)


def extract_shard(storage: Storage, spec: ShardSpec, video_dir: str | Path, options: FrameOptions,
                  threads: int = 2) -> ShardStats:
    return process_shard(storage, spec, lambda r: extract_item(r, storage, video_dir, options), threads=threads,
                         log_name="video frames")


def filelist_lines(storage: Storage, specs: list[ShardSpec]) -> list[str]:
    """``<relative dir> <nframes>`` for every video that has frames, sorted by folder."""
    lines = []
    for spec in specs:
        for result in read_manifest(storage, spec.manifest_rel):
            if result.status is Status.OK:
                lines.append(f"{result.key} {result.frames}")
    return sorted(lines)


def write_filelist(storage: Storage, specs: list[ShardSpec], filelist: str = "") -> str:
    """Write the list to ``filelist``: a path relative to the frames root (default ``filelist.txt``) or an
    absolute local path. Returns where it went."""
    text = "".join(f"{line}\n" for line in filelist_lines(storage, specs))
    target = filelist or FILELIST
    if os.path.isabs(target):
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return str(path)
    rel = safe_relpath(target, what="filelist")
    storage.write_text(rel, text)
    return storage.uri(rel)
