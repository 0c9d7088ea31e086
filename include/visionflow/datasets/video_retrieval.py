"""AdaCLIP video retrieval (MSRVTT, DiDeMo, ActivityNet Captions): frames and annotation splits (formats.md 4.2).

* Videos: ``videos_dir`` (a folder, searched recursively) or ``videos_url`` (a zip/tar, e.g. Frozen in Time's
  ``MSRVTT.zip``, unpacked flat into ``<data_root>/videos/<dataset>/``). The video *key* is the file name
  without its last extension (``video7020``; DiDeMo's ``<id>.avi`` for ``<id>.avi.mp4``).
* Frames: ``<frames_dir>/<key>/image_%05d.jpg`` from 1, as ``utils/frame_extraction.py`` writes them with
  ``ffmpeg -i IN -q:v 2 [-vf scale=-1:S | S:-1] [-r F]``: the same frame timing (``-r F``, or every frame at
  the native rate) and so the same frame counts; the short side scaled to ``frame_size`` only when larger;
  JPEG quality :data:`JPEG_QUALITY` (libjpeg scale), which matches ``-q:v 2`` in luma PSNR on the sample
  videos (``-q:v`` is ffmpeg's own quantiser scale and has no libjpeg equivalent). One shard of videos per
  mapped task; a finished folder is skipped; a folder appears whole or not at all.
* Annotations: ``annots/<dataset>/{train,val[,test]}.json`` under ``data_root`` (:mod:`formats.adaclip`).

Departures from upstream, on purpose: rotated (phone) videos come out upright and their short side is the
*displayed* one (upstream compares the coded width and height from ffprobe, so it scales the long side of a
rotated video); videos in sub-folders are found too; missing videos are reported, never written with an
empty extension.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from include.visionflow.datasets import remote_inputs
from include.visionflow.errors import BadInputError, BadRowError
from include.visionflow.formats import adaclip
from include.visionflow.inputs import local_input
from include.visionflow.manifest import ItemResult, ShardStats, Status, merge_stats, read_manifest, read_stats
from include.visionflow.paths import safe_component
from include.visionflow.shards import ShardSpec, balanced_rows, process_shard, write_shards
from include.visionflow.storage import Storage
from include.visionflow.video.frames import FrameOptions, extract_with
from include.visionflow.video.probe import work_estimate
from include.visionflow.video.publish import publish_folder, published_count, staging_folder

log = logging.getLogger(__name__)

# Luma PSNR against the decoded source, q92 vs ffmpeg's -q:v 2: +0.9 dB (bikes 640x272, bigbuckbunny 720p),
# -0.5 dB (carphone 176x144). ffmpeg's own MJPEG encoder (what -q:v 2 is) needs ~2x libjpeg-turbo's CPU.
JPEG_QUALITY = 92
VIDEO_SUFFIXES = tuple(f".{e}" for e in adaclip.EXTENSIONS) + (".mov", ".m4v", ".mpg")
SHARD_COLUMNS = ["key", "src", "error"]
VIDEOS_PER_SHARD = 50
ANNOTATIONS = {  # official sources (stack-facts.md); DiDeMo's are folders of the two GitHub repositories
    "msrvtt": "https://github.com/ArrowLuo/CLIP4Clip/releases/download/v0.0/msrvtt_data.zip",
    "activitynet": "https://cs.stanford.edu/people/ranjaykrishna/densevid/captions.zip",
    "didemo": "https://raw.githubusercontent.com/LisaAnne/LocalizingMoments/master/data/",
}
DIDEMO_SPLITS = "https://raw.githubusercontent.com/albanie/collaborative-experts/master/misc/datasets/didemo/"
VIDEOS = {"msrvtt": "https://www.robots.ox.ac.uk/~maxbain/frozen-in-time/data/MSRVTT.zip"}
WHERE_VIDEOS = {
    "didemo": "DiDeMo videos: see LisaAnne/LocalizingMoments (multimedia-commons S3, one file per video)",
    "activitynet": "ActivityNet videos: request them at http://activity-net.org/download.html",
}


@dataclass(frozen=True)
class FrameSettings:
    """AdaCLIP's ``--frame_rate`` and ``--frame_size`` (-1: native)."""

    frame_rate: float = -1
    frame_size: int = -1

    def options(self, threads: int = 2) -> FrameOptions:
        return FrameOptions(
            fps=self.frame_rate if self.frame_rate > 0 else None,
            short_side=self.frame_size if self.frame_size > 0 else None,
            upscale=False, even=False, nearest=True, cli_rate=True,
            quality=JPEG_QUALITY, pattern=adaclip.FRAME_PATTERN, threads=threads,
        )


def check_dataset(dataset: str) -> str:
    if dataset not in adaclip.DATASETS:
        raise BadInputError(f"dataset must be one of {adaclip.DATASETS}, not {dataset!r}")
    return dataset


def video_key(name: str) -> str:
    """``video7020.mp4`` -> ``video7020``; ``x.avi.mp4`` -> ``x.avi`` (upstream's ``os.path.splitext``)."""
    return os.path.splitext(name)[0]


def index_videos(videos_dir: str | Path) -> dict[str, list[str]]:
    """key -> video paths relative to ``videos_dir`` (one walk of the folder), sorted by upstream's extension
    preference (mp4, mkv, webm, avi, then the rest)."""
    root = Path(videos_dir)
    if not root.is_dir():
        raise BadInputError(f"videos_dir {str(videos_dir)!r} is not a folder")
    index: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(VIDEO_SUFFIXES) and not name.startswith("."):
                rel = Path(dirpath, name).relative_to(root).as_posix()
                index.setdefault(video_key(name), []).append(rel)
    rank = {s: i for i, s in enumerate(VIDEO_SUFFIXES)}
    for rels in index.values():
        rels.sort(key=lambda r: (rank.get(Path(r).suffix.lower(), len(rank)), r))
    return dict(sorted(index.items()))


def available_extensions(index: dict[str, list[str]]) -> dict[str, str]:
    """key -> comma list of the extensions present (what :func:`adaclip.extension_of` reads)."""
    return {key: ",".join(Path(r).suffix.lstrip(".").lower() for r in rels) for key, rels in index.items()}


def fetch_videos(dataset: str, videos_url: str, videos_dir: str, data_root: str) -> str:
    """The local folder of videos: ``videos_dir`` as given, or ``videos_url`` unpacked (once) into
    ``videos_dir`` or ``<data_root>/videos/<dataset>``."""
    check_dataset(dataset)
    if not videos_url:
        if not videos_dir:
            hint = VIDEOS.get(dataset) or WHERE_VIDEOS[dataset]
            raise BadInputError(f"give videos_dir (a local folder) or videos_url (a zip/tar); {hint}")
        folder = local_input(videos_dir, "videos_dir")
        if not folder.is_dir():
            raise BadInputError(f"videos_dir {videos_dir!r} is not a folder")
        return str(folder)
    if str(data_root).startswith("s3://") and not videos_dir:
        raise BadInputError("videos are decoded locally: with an s3:// data_root give a local videos_dir too")
    dest = Path(videos_dir or Path(data_root, "videos", dataset)).resolve()
    marker = dest / ".source.json"
    if marker.exists() and json.loads(marker.read_text()).get("url") == videos_url:
        log.info("videos from %s already unpacked in %s", videos_url, dest)
        return str(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as tmp:
        archive = local_input(videos_url, "videos_url") if not remote_inputs.is_url(videos_url) else \
            remote_inputs.download(videos_url, Path(tmp, "videos.archive"), "videos_url")
        if not archive.is_file():
            raise BadInputError(f"videos_url {videos_url!r} is not a URL or an existing archive")
        unpacked = remote_inputs.unpack_videos(archive, dest, VIDEO_SUFFIXES, label=f"videos_url {videos_url}")
    marker.write_text(json.dumps({"url": videos_url, "videos": unpacked.videos,
                                  "bad_members": list(unpacked.bad_members)}))
    return str(dest)


def bad_members(videos_dir: str | Path) -> list[dict]:
    """The members the unpack of ``videos_dir`` skipped (its ``.source.json``); none for a plain folder."""
    marker = Path(videos_dir, ".source.json")
    if not marker.is_file():
        return []
    members = json.loads(marker.read_text()).get("bad_members", [])
    return [m for m in members if isinstance(m, dict)]


def annots_rel(dataset: str, split: str) -> str:
    return f"annots/{dataset}/{split}.json"


def prepare_annotations(storage: Storage, dataset: str, videos_dir: str, annotations_url: str = "",
                        splits_url: str = "") -> dict:
    """Write ``annots/<dataset>/<split>.json`` and ``annots/<dataset>/report.json``; returns the report."""
    check_dataset(dataset)
    source = annotations_url or ANNOTATIONS[dataset]
    available = available_extensions(index_videos(videos_dir))
    with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        files = remote_inputs.named_files(source, adaclip.SOURCE_FILES[dataset], Path(tmp), "annotations_url")
        lists = None
        if dataset == "didemo":
            lists = remote_inputs.named_files(splits_url or DIDEMO_SPLITS, adaclip.DIDEMO_LISTS, Path(tmp),
                                              "splits_url")
    report = {"dataset": dataset, "annotations": source, "videos_dir": videos_dir, "splits": {}}
    for result in adaclip.build(dataset, files, available, lists):
        storage.write_text(annots_rel(dataset, result.split), adaclip.dumps(result.videos))
        report["splits"][result.split] = result.report()
        if result.missing:
            log.warning("%s %s: %s annotated videos are missing and left out, e.g. %s", dataset, result.split,
                        len(result.missing), result.missing[:5])
        log.info("wrote %s (%s videos)", storage.uri(annots_rel(dataset, result.split)), len(result.videos))
    storage.write_text(f"annots/{dataset}/report.json", json.dumps(report, indent=1))
    return report


def plan(storage: Storage, work_rel: str, videos_dir: str, per_shard: int = VIDEOS_PER_SHARD) -> list[ShardSpec]:
    """One row per video key (its preferred file), in shards of ``per_shard`` balanced by file size. A key
    that cannot be a folder name is planned with its error, so it is counted as a bad row instead of stopping
    the plan; so is an archive member the unpack skipped (keyed by its path in the archive, which no video
    key can equal: keys have no ``/``), so the report lists it with the videos."""
    index = index_videos(videos_dir)
    rows = [{"key": key, "src": str(Path(videos_dir, rels[0])), "error": _key_error(key)}
            for key, rels in index.items()]
    rows += [{"key": m.get("member", ""), "src": "", "error": f"{m.get('reason', 'bad_member')}: {m.get('detail', '')}"}
             for m in bad_members(videos_dir)]
    rows = balanced_rows(rows, per_shard, lambda r: 0 if r["error"] else work_estimate(r["src"]))
    specs = write_shards(storage, work_rel, rows, per_shard, SHARD_COLUMNS, label="frames")
    log.info("%s videos in %s shards from %s", len(index), len(specs), videos_dir)
    return specs


def _key_error(key: str) -> str:
    try:
        safe_component(key, what="video key")
    except BadRowError as err:
        return f"{err.reason}: {err.detail}"
    return ""


def extract_item(row: dict, storage: Storage, options: FrameOptions) -> ItemResult:
    """One video to ``<key>/image_%05d.jpg``; a complete folder is reused. Decode errors are item errors."""
    key = row["key"]
    if row.get("error"):
        raise BadRowError.planned(row["error"])
    done = published_count(storage, key)
    if done:
        return ItemResult(key, Status.OK, output=key, frames=done, reused=True)
    with staging_folder(storage) as folder:
        count = extract_with(row["src"], folder, options)
        size = sum(p.stat().st_size for p in folder.iterdir())
        publish_folder(storage, folder, key)
    return ItemResult(key, Status.OK, output=key, bytes=size, frames=count)


def extract_shard(storage: Storage, spec: ShardSpec, settings: FrameSettings, threads: int = 2) -> ShardStats:
    """``threads``: videos at a time, and threads per video (1: all in this thread, the least CPU when one
    shard runs per core)."""
    options = settings.options(threads)
    return process_shard(storage, spec, lambda r: extract_item(r, storage, options), threads=threads,
                         log_name="AdaCLIP frames")


def report(frames: Storage, specs: list[ShardSpec], data: Storage, dataset: str) -> dict:
    """``reports/video_retrieval_<dataset>.json`` under ``data_root``: frame counts, failures, and how many
    annotated videos have frames (every annotated video should)."""
    stats = [read_stats(frames, s.stats_rel) for s in specs if frames.exists(s.stats_rel)]
    counts, failures = {}, []
    lost = [s.shard_id for s in specs if not frames.exists(s.stats_rel)]  # a shard whose task failed
    for spec in specs:
        if spec.shard_id in lost:
            continue
        for result in read_manifest(frames, spec.manifest_rel):
            if result.status is Status.OK:
                counts[result.key] = result.frames or 0
            else:
                failures.append({"key": result.key, "reason": result.reason, "detail": result.detail})
    annotated = {}
    for split in adaclip.SPLITS[dataset]:
        rel = annots_rel(dataset, split)
        if data.exists(rel):
            keys = list(json.loads(data.read_text(rel)))
            annotated[split] = {"videos": len(keys), "without_frames": [k for k in keys if k not in counts][:20]}
    summary = {"dataset": dataset, "frames_dir": frames.uri(""), **merge_stats(stats), "frames": sum(counts.values()),
               "failures": failures[:50], "annotated": annotated, "unfinished_shards": lost}
    data.write_text(f"reports/video_retrieval_{dataset}.json", json.dumps(summary, indent=1))
    log.info("%s: %s frames of %s videos in %s; %s failed; report %s", dataset, summary["frames"], len(counts),
             frames.uri(""), len(failures), data.uri(f"reports/video_retrieval_{dataset}.json"))
    return summary
