"""Flickr-CC lists: bucket files, the shuffled global list, nested prefix subsets and MD5SUMS
(upstream ``generate_subsets.py``, formats.md §1.2), with memory that stays flat however big the crawl is.

1. Rows of every crawled day (sorted) are appended to per-bucket files in a local staging directory, through
   small per-bucket buffers that are flushed whenever their total passes ``buffer_rows``.
2. Buckets are visited 0000 -> 9999. Each one (about 1/10,000 of the crawl) is read alone, de-duplicated by
   id (the bucket comes from the id, so a photo crawled twice lands in the same bucket), sorted, shuffled
   with ``random.Random(f"{seed}:{bucket}")``, written to ``images/<b0>/<b1>/<b2>/<bucket>.tsv.gz`` and
   appended to ``lists/flickr.tsv.gz`` (``id \\t url \\t local_file``). Buckets are uniform in the id hash,
   so the concatenation is a random order, and the same seed gives byte-identical lists.
3. One streaming pass writes every ``flickr-<size>M.tsv.gz`` at once: subset *s* is exactly the first
   ``s * 10**6`` lines (nested prefixes); sizes not below the total are skipped, as upstream removes them.
4. ``lists/MD5SUMS``: ``md5sum -c`` format, each entry preceded by a ``# <file>: <n> lines`` comment.
"""
from __future__ import annotations

import gzip
import logging
import random
import shutil
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from include.visionflow.datasets.flickr_layout import LIST_REL, MD5SUMS_REL, crawled_days
from include.visionflow.errors import BadInputError
from include.visionflow.formats.openverse_tsv import BUCKETS, GzipTsvWriter, bucket_for, parse_row
from include.visionflow.storage import Storage
from include.visionflow.verify import file_md5

log = logging.getLogger(__name__)

DEFAULT_SIZES_M = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def size_name(size_m: float) -> str:
    """``flickr-<size>M.tsv.gz`` with the size printed the way Python prints it (0.1, 20, not 20.0)."""
    value = float(size_m)
    text = str(int(value)) if value.is_integer() else repr(value)
    return f"flickr-{text}M.tsv.gz"


def bucket_dir(bucket: str) -> str:
    return f"images/{bucket[0]}/{bucket[1]}/{bucket[2]}"


def local_file(bucket: str, url: str) -> str:
    """``images/<b0>/<b1>/<b2>/<bucket>/<basename of url>`` (the ``images/`` prefix is literal upstream)."""
    base = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if not base or base in (".", ".."):
        raise BadInputError(f"URL {url!r} has no file name to store it under")
    return f"{bucket_dir(bucket)}/{bucket}/{base}"


@dataclass(frozen=True)
class ListFile:
    name: str
    lines: int
    md5: str


@dataclass
class SubsetsResult:
    days: int
    rows_read: int
    total: int
    lists: list[ListFile]
    seed: int

    def to_xcom(self) -> dict:
        return asdict(self)


def _iter_day_rows(storage: Storage, days: list[str]) -> Iterator[str]:
    for day in days:
        rel = f"meta/{day}/flickr_images_{day}.tsv.gz"
        if not storage.exists(rel):
            log.warning("day %s has a done marker but no %s; skipped", day, rel)
            continue
        with storage.local_copy(rel) as path, gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
            for line in fh:
                if line.strip():
                    yield line.rstrip("\n")


class BucketSpool:
    """Per-bucket append files in ``root``, fed through buffers capped at ``buffer_rows`` rows in total."""

    def __init__(self, root: Path, buffer_rows: int = 50_000):
        self.root = root
        self.buffer_rows = buffer_rows
        self._buffers: dict[str, list[str]] = defaultdict(list)
        self._buffered = 0

    def path(self, bucket: str) -> Path:
        return self.root / f"{bucket}.tsv"

    def add(self, bucket: str, line: str) -> None:
        self._buffers[bucket].append(line)
        self._buffered += 1
        if self._buffered >= self.buffer_rows:
            self.flush()

    def flush(self) -> None:
        for bucket, lines in self._buffers.items():
            with open(self.path(bucket), "a", encoding="utf-8", newline="\n") as fh:
                fh.write("\n".join(lines) + "\n")
        self._buffers.clear()
        self._buffered = 0


def split_into_buckets(storage: Storage, days: list[str], spool: BucketSpool) -> int:
    rows = 0
    for line in _iter_day_rows(storage, days):
        row = parse_row(line)
        bucket = row["bucket"] if (row["bucket"] or "").isdigit() and len(row["bucket"]) == 4 else None
        spool.add(bucket or bucket_for(row["foreign_identifier"]), line)
        rows += 1
    spool.flush()
    return rows


def _bucket_entries(spool: BucketSpool, bucket: str, seed: int) -> tuple[list[str], list[str]]:
    """(unique rows sorted by id, shuffled list lines) of one bucket."""
    by_id: dict[str, str] = {}
    with open(spool.path(bucket), encoding="utf-8", newline="\n") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line:
                by_id.setdefault(line.split("\t", 1)[0], line)
    rows = [by_id[k] for k in sorted(by_id)]
    entries = []
    for line in rows:
        row = parse_row(line)
        entries.append(f"{row['foreign_identifier']}\t{row['url']}\t{local_file(bucket, row['url'])}")
    random.Random(f"{seed}:{bucket}").shuffle(entries)
    return rows, entries


def _write_gz_lines(storage: Storage, rel: str, lines: list[str]) -> None:
    with storage.open_write(rel) as fh:
        writer = GzipTsvWriter(fh)
        for line in lines:
            writer.write_line(line)
        writer.close()


def build_global_list(storage: Storage, spool: BucketSpool, seed: int, staging: Path) -> int:
    """Bucket files and ``lists/flickr.tsv.gz``; one bucket in memory at a time."""
    tmp = staging / "flickr.tsv.gz"
    total = 0
    with open(tmp, "wb") as out:
        writer = GzipTsvWriter(out)
        for b in range(BUCKETS):
            bucket = f"{b:04d}"
            if not spool.path(bucket).exists():
                continue
            rows, entries = _bucket_entries(spool, bucket, seed)
            _write_gz_lines(storage, f"{bucket_dir(bucket)}/{bucket}.tsv.gz", rows)
            for entry in entries:
                writer.write_line(entry)
            total += len(entries)
        writer.close()
    storage.put_file(LIST_REL, tmp)
    return total




def write_subsets(storage: Storage, total: int, sizes_m: tuple[float, ...], staging: Path) -> list[ListFile]:
    """Every nested prefix subset below ``total`` in one pass over the global list."""
    wanted = sorted({(round(float(s) * 1_000_000), size_name(s)) for s in sizes_m})
    wanted = [(n, name) for n, name in wanted if 0 < n < total]
    files = {name: open(staging / name, "wb") for _, name in wanted}
    writers = {name: GzipTsvWriter(fh) for name, fh in files.items()}
    try:
        with storage.local_copy(LIST_REL) as path, gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
            for i, line in enumerate(fh):
                open_sizes = [(n, name) for n, name in wanted if i < n]
                if not open_sizes:
                    break
                for _, name in open_sizes:
                    writers[name].write_line(line.rstrip("\n"))
    finally:
        for name, writer in writers.items():
            writer.close()
            files[name].close()
    out = []
    for n, name in wanted:
        out.append(ListFile(name, n, file_md5(staging / name)))
        storage.put_file(f"lists/{name}", staging / name)
    return out


def write_md5sums(storage: Storage, lists: list[ListFile]) -> None:
    lines = []
    for item in lists:
        lines += [f"# {item.name}: {item.lines} lines", f"{item.md5}  {item.name}"]
    storage.write_text(MD5SUMS_REL, "\n".join(lines) + "\n")


def build_subsets(storage: Storage, seed: int = 0, sizes_m: tuple[float, ...] = DEFAULT_SIZES_M,
                  buffer_rows: int = 50_000) -> SubsetsResult:
    """Everything in ``lists/`` from every crawled day; deterministic given ``seed``."""
    days = crawled_days(storage)
    if not days:
        raise BadInputError(f"no crawled day (meta/<day>/done) under {storage.root}; run flickr_cc_crawl first")
    staging = Path(tempfile.mkdtemp(prefix="flickr-subsets-", dir=storage.staging_dir()))
    try:
        spool_dir = staging / "buckets"
        spool_dir.mkdir()
        spool = BucketSpool(spool_dir, buffer_rows)
        rows = split_into_buckets(storage, days, spool)
        total = build_global_list(storage, spool, seed, staging)
        with storage.local_copy(LIST_REL) as path:
            main = ListFile("flickr.tsv.gz", total, file_md5(Path(path)))
        lists = [main, *write_subsets(storage, total, tuple(sizes_m), staging)]
        write_md5sums(storage, lists)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("lists from %s day(s): %s rows read, %s unique, subsets %s", len(days), rows, total,
             [f.name for f in lists[1:]])
    return SubsetsResult(days=len(days), rows_read=rows, total=total, lists=lists, seed=seed)


