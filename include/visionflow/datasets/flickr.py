"""Flickr-CC, the recipe (formats.md §1): crawl one UTC day, download a subset, convert it to a memmap.

Layout under the output root::

    meta/<YYYY-MM-DD>/flickr_images_<YYYY-MM-DD>.tsv.gz   Openverse TSV v001 + bucket column, ids unique
    meta/<YYYY-MM-DD>/crawl.json                         requests, duplicates, drops, unreachable slices
    meta/<YYYY-MM-DD>/done                               written last; a day with it is skipped
    lists/flickr.tsv.gz, lists/flickr-<N>M.tsv.gz, lists/MD5SUMS     (flickr_subsets.py)
    lists/<subset stem>.memmap                           S120 entries, one per list line, in order
    <root_dir>/<local_file>                              downloaded JPEGs, short side 256, named as listed
    _work/flickr_download/<subset stem>/rows<N>[<suffix>]/{shards,manifests}/  download shards (N rows each)
    _work/flickr_download/<subset stem>/summary.json     the last download's counts and ``file_suffix``

Upstream's loader renamed ``.jpg`` to ``-256p.jpg`` while the downloader kept the listed name (formats.md
§1.6.7). By default the file is exactly ``local_file``; ``file_suffix="-256p"`` writes ``<name>-256p.jpg``, the
name that loader opens (:func:`flickr_layout.image_name`). The lists and the memmap hold ``local_file`` either
way: the loader adds the suffix itself.
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from include.visionflow.datasets.flickr_layout import (
    MD5SUMS_REL,
    DayLayout,
    check_suffix,
    image_name,
    read_md5sums,
    subset_stem,
)
from include.visionflow.errors import BadInputError, BadRowError
from include.visionflow.formats.memmap import WIDTH, list_to_memmap
from include.visionflow.formats.openverse_tsv import GzipTsvWriter, ImageRecord
from include.visionflow.manifest import ItemResult, ShardStats, Status, merge_stats, read_stats
from include.visionflow.paths import safe_component
from include.visionflow.shards import ShardSpec, process_shard, rows_per_shard, work_rel, write_shards
from include.visionflow.sources.flickr import FlickrIngester
from include.visionflow.sources.flickr_api import FlickrClient
from include.visionflow.sources.timeslice import PlanConfig, Slice
from include.visionflow.storage import Storage
from include.visionflow.verify import file_md5

log = logging.getLogger(__name__)

STRATEGIES = ("walk", "plan")
LIST_COLUMNS = ["id", "url", "local_file"]


def parse_day(value: str | date | datetime) -> date:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.strptime(str(value).strip()[:10], "%Y-%m-%d").date()
    except ValueError:
        raise BadInputError(f"date {value!r} is not YYYY-MM-DD") from None


def day_bounds(day: date) -> tuple[int, int]:
    """Inclusive epoch-second bounds of a UTC day."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
    return start, start + 86399


@dataclass
class CrawlResult:
    """One day's crawl, small enough for XCom."""

    day: str
    skipped: bool = False
    rows: int = 0
    requests: int = 0
    duplicates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    saturated_rounds: int = 0
    unreachable_slices: list[list[int]] = field(default_factory=list)
    tsv_uri: str = ""
    strategy: str = "walk"

    def to_xcom(self) -> dict:
        return asdict(self)


class DayTsvSink:
    """Rows stream into a local gzip; ``commit`` moves it to the day's TSV (atomic), partial or not."""

    def __init__(self, storage: Storage, rel: str):
        self.storage = storage
        self.rel = rel
        fd, self._tmp = tempfile.mkstemp(dir=storage.staging_dir(), suffix=".tsv.gz.part")
        self._fh = os.fdopen(fd, "wb")
        self._writer = GzipTsvWriter(self._fh)
        self.committed = False

    @property
    def rows(self) -> int:
        return self._writer.rows

    def add(self, record: ImageRecord) -> None:
        self._writer.write(record)

    def discard(self) -> None:
        """Drop the temp file (nothing was ingested, e.g. planning failed)."""
        self._writer.close()
        self._fh.close()
        Path(self._tmp).unlink(missing_ok=True)
        self.committed = True

    def commit(self) -> None:
        if self.committed:
            return
        self._writer.close()
        self._fh.close()
        self.storage.put_file(self.rel, self._tmp)
        self.committed = True
        log.info("wrote %s rows to %s", self.rows, self.storage.uri(self.rel))


def crawl_day(client: FlickrClient, storage: Storage, day: str | date, strategy: str = "walk",
              reprocess: bool = False, licenses: tuple[int, ...] | None = None,
              plan_config: PlanConfig | None = None) -> CrawlResult:
    """Every photo Flickr can return for ``day``, each once, into the day's TSV, then the ``done`` marker.

    ``licenses`` defaults to every id of the client's licence table (Openverse's eight, plus any the
    connection adds, e.g. Flickr's CC 4.0 ids), so an extension is crawled as well as mapped."""
    if strategy not in STRATEGIES:
        raise BadInputError(f"crawl strategy {strategy!r} unknown; use one of {STRATEGIES}")
    day = parse_day(day)
    layout = DayLayout(day.isoformat())
    if storage.exists(layout.done) and not reprocess:
        log.info("%s already crawled (%s exists); set reprocess to crawl again", layout.day, layout.done)
        return CrawlResult(day=layout.day, skipped=True, tsv_uri=storage.uri(layout.tsv), strategy=strategy)
    storage.delete(layout.done)  # a reprocessed day is not done until its new TSV is
    start, end = day_bounds(day)
    licenses = tuple(sorted(client.config.licenses)) if licenses is None else tuple(licenses)
    sink = DayTsvSink(storage, layout.tsv)
    ingester = FlickrIngester(client, sink)
    requests_before = client.requests
    if strategy == "plan":
        try:
            rounds = ingester.plan(start, end, licenses, plan_config).slices
        except BaseException:
            sink.discard()
            raise
    else:
        rounds = [Slice(start, end, licenses)]
    stats = ingester.ingest(rounds)  # commits the sink, also on error (no done marker then)
    result = CrawlResult(
        day=layout.day, rows=sink.rows, requests=client.requests - requests_before,
        duplicates=stats.duplicates, dropped=dict(stats.dropped), saturated_rounds=stats.saturated_rounds,
        unreachable_slices=[[s.start, s.end, *s.licenses] for s in ingester.capped],
        tsv_uri=storage.uri(layout.tsv), strategy=strategy,
    )
    storage.write_text(layout.report, json.dumps(result.to_xcom(), indent=1, sort_keys=True))
    storage.write_bytes(layout.done, b"")
    log.info("crawled %s: %s rows with %s requests (%s duplicates skipped, dropped %s)", layout.day,
             result.rows, result.requests, result.duplicates, result.dropped)
    return result


# -- download ---------------------------------------------------------------------------------------------------
def iter_list(storage: Storage, rel: str) -> Iterator[dict]:
    """``id \\t url \\t local_file`` rows of a list file, streamed."""
    if not storage.exists(rel):
        raise BadInputError(f"list {storage.uri(rel)} does not exist; run flickr_cc_subsets first")
    with storage.local_copy(rel) as path, gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
        for n, line in enumerate(fh, 1):
            cells = line.rstrip("\n").split("\t")
            if len(cells) != 3:
                raise BadInputError(f"{storage.uri(rel)} line {n}: expected 3 tab-separated columns")
            yield {"id": cells[0], "url": cells[1], "local_file": cells[2]}


def count_lines(storage: Storage, rel: str) -> int:
    """Lines of a list: from ``lists/MD5SUMS`` when it vouches for the file's current md5, else counted."""
    from include.visionflow.formats.memmap import gzip_column_blocks

    name = rel.rsplit("/", 1)[-1]
    with storage.local_copy(rel) as path:
        if storage.exists(MD5SUMS_REL):
            md5, lines = read_md5sums(storage.read_text(MD5SUMS_REL)).get(name, ("", -1))
            if lines >= 0 and md5 == file_md5(path):
                return lines
        return sum(len(block) for block in gzip_column_blocks(path, len(LIST_COLUMNS), 0))




def plan_download(storage: Storage, subset: str, min_shard: int = 1000, parallelism: int = 1,
                  file_suffix: str = "") -> list[ShardSpec]:
    """Cut ``lists/<subset>`` into Parquet shards under ``_work/flickr_download/<stem>/`` (stable across runs),
    at least ``parallelism`` of them when the list is long enough, else of ``min_shard`` rows."""
    rel = f"lists/{subset}"
    if not storage.exists(rel):
        raise BadInputError(f"list {storage.uri(rel)} does not exist; run flickr_cc_subsets first")
    total = count_lines(storage, rel)
    per_shard = rows_per_shard(total, min_shard, parallelism=parallelism)
    # A done shard is skipped by id: another cut of the same list, or the same cut written under other file
    # names, must not meet this one's stats files.
    work = work_rel("flickr_download", f"{subset_stem(subset)}/rows{per_shard}{check_suffix(file_suffix)}")
    specs = write_shards(storage, work, iter_list(storage, rel), per_shard, LIST_COLUMNS, label=subset_stem(subset))
    log.info("%s: %s lines in %s shard(s)", rel, total, len(specs))
    return specs


@dataclass(frozen=True)
class DownloadConfig:
    short_side: int = 256
    quality: int = 75
    threads: int = 16
    file_suffix: str = ""  # before ".jpg" in the written names: "-256p" for the paper's MemMapImageListDataset

    def __post_init__(self) -> None:
        check_suffix(self.file_suffix)


def local_file_rel(value: str, file_suffix: str = "") -> str:
    """A list's ``local_file`` as the path it is written to under the download root: ``images/...``, every
    part checked, renamed by ``file_suffix`` (:func:`flickr_layout.image_name`)."""
    parts = image_name(str(value), file_suffix).split("/")
    if len(parts) < 2 or parts[0] != "images":
        raise BadRowError("unsafe_local_file", f"local_file {value!r} is not under images/")
    return "/".join(safe_component(p, "local file") for p in parts)


def _download_item(row: dict, root: Storage, fetcher, spec, file_suffix: str = "") -> ItemResult:
    from include.visionflow.images import transform_image

    key, rel = row["id"], local_file_rel(row["local_file"], file_suffix)
    if root.exists(rel):
        return ItemResult(key, Status.OK, output=rel, bytes=root.size(rel) or 0, reused=True)
    image = transform_image(fetcher.fetch_bytes(row["url"]), spec)
    root.write_bytes(rel, image.jpeg)
    return ItemResult(key, Status.OK, output=rel, bytes=len(image.jpeg), width=image.width, height=image.height)


def download_shard(storage: Storage, root: Storage, spec: ShardSpec, cfg: DownloadConfig,
                   fetcher=None) -> ShardStats:
    """Download one shard to ``root``; a shard with stats is done, a file that exists is reused."""
    from include.visionflow.fetch.http import Fetcher
    from include.visionflow.images import ImageSpec

    # Upstream scales the short side to 256 and upscales small images too (formats.md §1.3).
    image_spec = ImageSpec(mode="short_side", size=cfg.short_side, upscale=True, quality=cfg.quality)
    fetcher = fetcher or Fetcher()
    return process_shard(storage, spec, lambda r: _download_item(r, root, fetcher, image_spec, cfg.file_suffix),
                         key="id", threads=cfg.threads, log_name="flickr download", url_key="url")


def summarize_download(storage: Storage, specs: list[ShardSpec], subset: str, file_suffix: str = "") -> dict:
    """Totals of the shards, with the ``file_suffix`` the images were named with (which loader they serve)."""
    summary = merge_stats([read_stats(storage, s.stats_rel) for s in specs])
    summary["subset"] = subset
    summary["file_suffix"] = check_suffix(file_suffix)
    # The cut's folder (``<stem>_rows<N>[<suffix>]``): the run report reads this run's manifests from it.
    summary["work"] = specs[0].rel.split("/shards/", 1)[0] if specs else ""
    storage.write_text(f"{work_rel('flickr_download', subset_stem(subset))}/summary.json", json.dumps(summary, indent=1))
    return summary


# -- memmap -----------------------------------------------------------------------------------------------------
def convert_to_mmap(storage: Storage, subset: str, width: int = WIDTH) -> dict:
    """``lists/<stem>.memmap``: the ``local_file`` of every line of ``lists/<subset>``, in order, in one
    streaming pass (fails naming the line on a path over ``width`` bytes)."""
    rel = f"lists/{subset}"
    out_rel = f"lists/{subset_stem(subset)}.memmap"
    if not storage.exists(rel):
        raise BadInputError(f"list {storage.uri(rel)} does not exist; run flickr_cc_subsets first")
    fd, tmp = tempfile.mkstemp(dir=storage.staging_dir(), suffix=".memmap")
    os.close(fd)
    try:
        with storage.local_copy(rel) as src:
            count = list_to_memmap(src, tmp, columns=len(LIST_COLUMNS), width=width)
        storage.put_file(out_rel, tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("wrote %s entries to %s", count, storage.uri(out_rel))
    return {"memmap": storage.uri(out_rel), "rel": out_rel, "count": count, "dtype": f"S{width}"}
