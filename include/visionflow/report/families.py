"""The report and dataset card of each existing family, built from what its run left in the output root.

Every function returns the report's URI. Reports go to ``reports/<family>/<run>/report.html`` and, as the latest,
``report.html`` at the root (``report-<dag id>.html`` where DAGs share the root); the card to ``README.md``.
New families call :func:`publish` the same way; the newer ones live in :mod:`.video_families` and
:mod:`.xtune_families`.
"""
from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from datetime import datetime, timezone

from include.visionflow.report import cards, video_families, xtune_families
from include.visionflow.report.data import collect_work
from include.visionflow.report.plots import Bars, Histogram
from include.visionflow.report.publish import frame_strips, publish, read_json as _json, thumbnails
from include.visionflow.shards import work_rel
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

# The three Flickr DAGs share one output root: each keeps its own latest report there.
FLICKR_DAGS = {"flickr_crawl": "flickr_cc_crawl", "flickr_subsets": "flickr_cc_subsets",
               "flickr_download": "flickr_cc_download"}


def latest_of(dag_id: str) -> str:
    return f"report-{dag_id}.html"


def _flickr(storage: Storage, title: str, run_id: str, family: str, **report) -> str:
    return publish(storage, title, run_id, family, latest=latest_of(FLICKR_DAGS[family]), **report)


def _flickr_card(storage: Storage):
    """The Flickr card with each downloaded subset's ``file_suffix``: the three DAGs rewrite one card, so
    each reads the naming from the download summaries rather than only from its own run."""
    suffixes = {}
    for rel in storage.list("_work/flickr_download"):
        parts = rel.split("/")
        if len(parts) == 4 and parts[3] == "summary.json":
            summary = _json(storage, rel)
            suffixes[summary.get("subset", parts[2])] = str(summary.get("file_suffix", ""))
    return cards.flickr(suffixes)


def openimages(storage: Storage, run_id: str) -> str:
    run = collect_work(storage, work_rel("openimages", run_id))
    summary = {f"{split} {k}": v for split in run.groups
               for k, v in _json(storage, f"{split}/summary.json").get("counts", {}).items() if v}
    samples = [thumbnails(storage, run, f"{split}: sampled thumbnails", split) for split in run.groups]
    return publish(storage, f"OpenImages V4 — run {run_id}", run_id, "openimages", cards.openimages(), run=run,
                   summary=summary, samples=samples)


def flickr_download(storage: Storage, images: Storage, subset: str, run_id: str) -> str:
    """Downloaded images (a contact sheet), failed ones with their reasons (the failed table and the reasons
    plot), the resized sizes and the images/s of every shard, read from the manifests of the cut this run
    used (``summary.json``'s ``work``; before it was recorded, a cut of the subset found by name)."""
    from include.visionflow.datasets.flickr_layout import subset_stem

    stem = subset_stem(subset)
    summary_rel = f"{work_rel('flickr_download', stem)}/summary.json"
    raw = _json(storage, summary_rel)
    work = raw.get("work") or _newest_cut(storage, stem)
    run = collect_work(storage, work) if work else None
    summary = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    plots, samples = [], []
    if run is not None:
        fresh = [r for r in run.ok() if r.get("width") and r.get("height")]
        plots = [Histogram("Resized long side", [max(r["width"], r["height"]) for r in fresh], "pixels"),
                 Histogram("Resized file size", [r["bytes"] / 1024 for r in fresh if r.get("bytes")], "KiB"),
                 Bars("Images per second, per shard",
                      {s["shard"]: round((s.get("total", 0) - s.get("reused", 0)) / s["seconds"], 1)
                       for s in sorted(run.shards, key=lambda s: s["shard"]) if s.get("seconds")},
                      "images/s", colours={s["shard"]: "#1565c0" for s in run.shards})]
        samples = [thumbnails(images, run, f"{subset}: sampled downloaded images")]
    return _flickr(storage, f"Flickr-CC download of {subset} — run {run_id}", run_id, "flickr_download",
                   card=_flickr_card(storage), run=run, summary=summary, samples=samples, extra_plots=plots,
                   also_wrote=(images,))


def _newest_cut(storage: Storage, stem: str) -> str:
    """A cut folder of ``stem`` (the last by name), for summaries written before ``work`` was recorded."""
    prefix = f"{work_rel('flickr_download', stem)}_rows"
    stats = [k for k in storage.list("_work/flickr_download") if k.startswith(prefix) and k.endswith(".stats.json")]
    if not stats:
        return ""
    return max(stats).split("/manifests/", 1)[0]


def _day_rows(storage: Storage, rel: str) -> tuple[Counter, list[float]]:
    from include.visionflow.formats.openverse_tsv import COLUMNS

    lic, ver, meta = COLUMNS.index("license"), COLUMNS.index("license_version"), COLUMNS.index("meta_data")
    licences, hours = Counter(), []
    for line in gzip.decompress(storage.read_bytes(rel)).decode("utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) <= meta:
            continue
        licences[f"{cols[lic]} {cols[ver]}"] += 1
        try:
            stamp = int(json.loads(cols[meta]).get("pub_date"))
            hours.append(datetime.fromtimestamp(stamp, timezone.utc).hour)
        except (TypeError, ValueError, AttributeError):
            continue
    return licences, hours


def flickr_crawl(storage: Storage, day: str, run_id: str) -> str:
    if not day:  # the crawl failed before it knew its day
        return _flickr(storage, f"Flickr-CC crawl — run {run_id}", run_id, "flickr_crawl",
                       notes=["The crawl task failed before choosing its day; see its log."])
    from include.visionflow.datasets.flickr_layout import DayLayout

    layout = DayLayout(day)
    crawl = _json(storage, layout.report)
    licences, hours = _day_rows(storage, layout.tsv) if storage.exists(layout.tsv) else (Counter(), [])
    summary = {k: v for k, v in crawl.items() if not isinstance(v, (dict, list))}
    summary.update({f"dropped {k}": v for k, v in crawl.get("dropped", {}).items()})
    plots = [Bars(f"Photos per licence, {day}", dict(licences.most_common()), "photos",
                  colours={k: "#1565c0" for k in licences}),
             Histogram(f"Upload hour (UTC), {day}", hours, "hour of day", edges=list(range(25)))]
    return _flickr(storage, f"Flickr-CC crawl of {day} — run {run_id}", run_id, "flickr_crawl",
                   card=_flickr_card(storage), summary=summary, extra_plots=plots)


def flickr_subsets(storage: Storage, run_id: str) -> str:
    from include.visionflow.datasets.flickr_layout import read_md5sums

    lists = read_md5sums(storage.read_text("lists/MD5SUMS")) if storage.exists("lists/MD5SUMS") else {}
    summary = {name: f"{lines:,} lines, md5 {md5}" for name, (md5, lines) in lists.items()}
    plots = [Bars("Lines per list", {n: lines for n, (_, lines) in lists.items()}, "lines",
                  colours={n: "#1565c0" for n in lists})]
    return _flickr(storage, f"Flickr-CC lists — run {run_id}", run_id, "flickr_subsets",
                   card=_flickr_card(storage), summary=summary, extra_plots=plots)


def kinetics(storage: Storage, dataset: str, run_id: str) -> str:
    run = collect_work(storage, work_rel("kinetics", run_id))
    summary = {}
    for split, stages in _json(storage, "summary.json").get("splits", {}).items():
        for stage, merged in stages.items():
            summary.update({f"{split} {stage} {k}": v for k, v in merged.get("counts", {}).items() if v})
    folders = [r["output"] for r in run.ok() if r["group"].endswith("rawframes") and r.get("output")]
    return publish(storage, f"{dataset} — run {run_id}", run_id, "kinetics", cards.kinetics(dataset, storage), run=run,
                   summary=summary, samples=[frame_strips(storage, folders, "Raw frames of sampled clips")])


def video_frames(storage: Storage, run_id: str) -> str:
    run = collect_work(storage, work_rel("video_frames", run_id))
    folders = [r["output"] for r in run.ok() if r.get("output")]
    return publish(storage, f"Video frames — run {run_id}", run_id, "video_frames", cards.video_frames(), run=run,
                   samples=[frame_strips(storage, folders, "Frames of sampled videos")])


FAMILIES = {
    "openimages": openimages,
    "flickr_download": flickr_download,
    "flickr_crawl": flickr_crawl,
    "flickr_subsets": flickr_subsets,
    "kinetics": kinetics,
    "video_frames": video_frames,
    "trackverse": video_families.trackverse,
    "video_retrieval": video_families.video_retrieval,
    "activitynet_qa": xtune_families.activitynet_qa,
    "clip_datasets": xtune_families.clip_datasets,
}
