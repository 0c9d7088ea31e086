"""Streaming input lists cut into Parquet shards, and the one shard runner every family goes through.

Input lists can be many GB: rows are read one at a time and written out ``rows_per_shard`` at a time, so
memory stays flat. Each shard becomes one mapped Airflow task; XCom carries only ``ShardSpec`` dicts.

Layout and "done", the same for every family (under the output root)::

    _work/<family>/<run or list>/[<split>/]shards/shard-NNNNN.parquet          the rows of one shard
    _work/<family>/<run or list>/[<split>/][<stage>/]manifests/shard-NNNNN.manifest.parquet
                                                                              one status row per item
    _work/<family>/<run or list>/[<split>/][<stage>/]manifests/shard-NNNNN.stats.json
                                                                              written last: the shard is done
    _work/<family>/<run or list>/[<split>/][<stage>/]manifests/shard-NNNNN.lease
                                                                              while a process writes the shard

* A shard (or a stage of it) is done when its stats file exists; ``process_shard`` then returns the stored
  stats and runs nothing.
* An item is done when its output exists: outputs appear only by atomic rename (``Storage.write_bytes``,
  ``put_file``), so existence means complete. A multi-file output (a folder of frames) is published with a
  ``.done`` marker written last (``video/publish.py``); a Flickr crawl day likewise ends with ``meta/<day>/done``.
"""
from __future__ import annotations

import csv
import gzip
import heapq
import io
import logging
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar
from urllib.parse import urlsplit

from include.visionflow.errors import BadInputError, ItemError
from include.visionflow.lease import Lease, shard_lease
from include.visionflow.manifest import ItemResult, ShardStats, read_stats, write_manifest, write_stats
from include.visionflow.memory import keep_freed_buffers
from include.visionflow.progress import Progress
from include.visionflow.storage import Storage


log = logging.getLogger(__name__)

# Airflow refuses to map over more than 1024 items ([core] max_map_length); stay well below.
MAX_SHARDS = 500
T = TypeVar("T")
R = TypeVar("R")
PROGRESS_EVERY = 20.0  # seconds between progress lines in a task log


@dataclass(frozen=True)
class ShardSpec:
    """One shard: rows in ``<work>/shards/shard-NNNNN.parquet`` under the output root."""

    shard_id: int
    rel: str
    count: int
    label: str = ""  # e.g. the split the shard belongs to

    def to_xcom(self) -> dict:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict) -> "ShardSpec":
        return cls(**data)

    def for_stage(self, stage: str) -> "ShardSpec":
        """The same rows with the manifest and stats of one stage (``<work>/<stage>/manifests/...``)."""
        if not stage:
            return self
        return replace(self, rel=self.rel.replace("/shards/", f"/{stage}/shards/"))

    def describe(self, name: str = "") -> str:
        label = "/".join(p for p in (name, self.label) if p)
        return f"shard {self.shard_id}" + (f" ({label})" if label else "")

    @property
    def manifest_rel(self) -> str:
        return self.rel.replace("/shards/", "/manifests/").replace(".parquet", ".manifest.parquet")

    @property
    def lease_rel(self) -> str:
        return self.rel.replace("/shards/", "/manifests/").replace(".parquet", ".lease")

    @property
    def stats_rel(self) -> str:
        return self.rel.replace("/shards/", "/manifests/").replace(".parquet", ".stats.json")


def work_rel(family: str, key: str) -> str:
    """Where a family keeps a run's shards and manifests: ``_work/<family>/<key>`` under the output root.

    ``key`` is a run id (a fresh plan per run) or a stable name (Flickr's subset: reruns find the same shards);
    it is reduced to storage-safe characters here, since run ids carry ``:`` and ``+``."""
    return f"_work/{family}/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


def rows_per_shard(total: int, minimum: int = 1000, max_shards: int = MAX_SHARDS, parallelism: int = 1) -> int:
    """The smallest shard size >= ``minimum`` that keeps the map under ``max_shards``; smaller shards when
    that would leave fewer than ``parallelism`` shards, so a small input still keeps every worker busy."""
    if not total:
        return max(1, minimum)
    per_shard = min(max(1, minimum), math.ceil(total / max(1, parallelism)))
    return max(per_shard, math.ceil(total / max_shards))


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a local text file, transparently gunzipping ``.gz``; a leading byte-order mark is dropped
    (a BOM glued to the first column name silently lost that column)."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"input file {path} does not exist")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def iter_csv(path: str | Path, required: Iterable[str] = (), delimiter: str = ",",
             multiline: bool = False) -> Iterator[dict]:
    """Rows of a CSV as dicts, streamed; a missing column, a quote left open or undecodable bytes are
    clear errors naming the file and line (never quoting its content).

    Our inputs have no line breaks inside values, so unless ``multiline`` a row spanning several lines
    means an unterminated quote that swallowed the rows after it.
    """
    with open_text(path) as fh:
        reader = csv.DictReader(fh, delimiter=delimiter, strict=True)
        last_line = 0
        try:
            fieldnames = reader.fieldnames or []  # reads the header now, so line numbers count from it
            missing = [c for c in required if c not in fieldnames]
            if missing:
                raise BadInputError(
                    f"{path}: missing column(s) {missing}; found {reader.fieldnames}. "
                    "Check that the URL points at the right metadata file."
                )
            last_line = reader.line_num
            for row in reader:
                if not multiline and reader.line_num - last_line > 1:
                    raise BadInputError(
                        f"{path}: line {last_line + 1}: a quoted value runs over lines {last_line + 1}-"
                        f"{reader.line_num} (an unterminated quote?); fix the quoting of that line"
                    )
                last_line = reader.line_num
                yield row
        except csv.Error as err:
            hint = " (a quote left open?)" if "end of data" in str(err) else ""
            raise BadInputError(f"{path}: line {last_line + 1}: malformed CSV: {err}{hint}; fix that line") from None
        except UnicodeDecodeError:
            raise BadInputError(f"{path}: after line {last_line}: bytes that are not UTF-8; "
                                "save the file as UTF-8") from None


def malformed_csv(path: str | Path, error: Exception) -> BadInputError:
    """A bad-input error for a CSV a fast reader (Arrow) refused: it names the first line whose field count
    differs from the header's, found by a second, plain pass (only on this failure path), and never quotes
    the file's content."""
    summary = re.sub(r"(got \d+)\b.*", r"\1", str(error).splitlines()[0] if str(error) else "")[:120]
    try:
        with open_text(path) as fh:
            reader = csv.reader(fh, strict=True)
            width = len(next(reader, []))
            last_line = reader.line_num
            for fields in reader:
                if len(fields) != width or reader.line_num - last_line > 1:
                    return BadInputError(f"{path}: line {last_line + 1}: {len(fields)} field(s) where the header "
                                         f"has {width} ({summary}); fix or remove that line")
                last_line = reader.line_num
    except (csv.Error, UnicodeDecodeError) as err:
        return BadInputError(f"{path}: after line {reader.line_num}: malformed CSV ({type(err).__name__}); "
                             "fix that line or save the file as UTF-8")
    return BadInputError(f"{path}: malformed CSV ({summary}); check the file")


def write_shards(
    storage: Storage,
    work_rel: str,
    rows: Iterable[dict],
    per_shard: int,
    columns: list[str],
    label: str = "",
    first_id: int = 0,
) -> list[ShardSpec]:
    """Write ``rows`` as Parquet shards of ``per_shard`` rows under ``<work_rel>/shards/``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    specs: list[ShardSpec] = []
    batch: list[dict] = []

    def flush() -> None:
        shard_id = first_id + len(specs)
        rel = f"{work_rel}/shards/shard-{shard_id:05d}.parquet"
        table = pa.table({c: [str(r.get(c, "") or "") for r in batch] for c in columns})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        storage.write_bytes(rel, buf.getvalue())
        specs.append(ShardSpec(shard_id=shard_id, rel=rel, count=len(batch), label=label))
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= per_shard:
            flush()
    if batch:
        flush()
    return specs


def balanced_rows(rows: list[dict], per_shard: int, weight: Callable[[dict], float]) -> list[dict]:
    """``rows`` reordered so that the shards ``write_shards`` cuts (runs of ``per_shard``) carry near-equal
    total ``weight``: heaviest row first into the lightest shard with room. Shards run side by side as mapped
    tasks, so the heaviest one sets the wall time; a name-sorted folder can put all the big videos in one.
    Each shard keeps the input order among its rows."""
    count, per_shard = len(rows), max(1, per_shard)  # write_shards cuts a row per shard below 1 too
    shards = math.ceil(count / per_shard)
    if shards <= 1:
        return list(rows)
    room = [per_shard] * (shards - 1) + [count - per_shard * (shards - 1)]
    loads = [(0.0, i) for i in range(shards)]  # a heap of (weight so far, shard)
    members: list[list[int]] = [[] for _ in range(shards)]
    weights = [float(weight(row)) for row in rows]
    for index in sorted(range(count), key=lambda i: -weights[i]):
        load, shard = heapq.heappop(loads)
        members[shard].append(index)
        if len(members[shard]) < room[shard]:
            heapq.heappush(loads, (load + weights[index], shard))
    return [rows[i] for shard in members for i in sorted(shard)]


def read_shard(storage: Storage, spec: ShardSpec) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(storage.read_bytes(spec.rel))).to_pylist()


def process_shard(storage: Storage, spec: ShardSpec, item_fn: Callable[[dict], ItemResult], *, key: str = "key",
                  threads: int = 1, stage: str = "", progress_every: float = PROGRESS_EVERY,
                  log_name: str = "", url_key: str = "", slow_after: float | None = None) -> ShardStats:
    """Run one shard's items: the one item loop every family goes through.

    * A shard whose stats file exists is done (the stats are written last): its stats are returned, nothing runs.
    * ``item_fn(row)`` returns an :class:`ItemResult`; an :class:`ItemError` it raises becomes that item's
      failed row (status from the error class). Any other exception stops the shard and propagates, so the
      task fails and Airflow retries it; outputs already written stay and are reused on the retry.
    * Progress is logged every ``progress_every`` seconds, whether items finish or not, and at the end; lines
      name the items running for over ``slow_after`` seconds (default half of that) with the host of
      their URL (the ``url_key`` column, else the row's first http(s) value).
    * ``stage`` keeps a separate manifest and stats for another pass over the same rows (``spec.for_stage``).
    * One writer per shard (and stage): a lease in the output root (``lease.py``) is taken before the first
      item and checked again before the manifest and the stats are written. A process that finds it held by
      a live one raises ``ShardBusyError`` (the task fails; Airflow retries it later); the lease of a
      dead holder is taken over.
    """
    target = spec.for_stage(stage)
    # The stage in every line: one task may run several stages over the same shard, one after another.
    what = target.describe(log_name) + (f" {stage}" if stage else "")
    if storage.exists(target.stats_rel):
        return _done(storage, target, what)
    with shard_lease(storage, target.lease_rel, what) as lease:
        if storage.exists(target.stats_rel):  # finished by a holder that released the lease meanwhile
            return _done(storage, target, what)
        rows = read_shard(storage, spec)
        progress = Progress(what, len(rows), progress_every, slow_after=slow_after)
        results = _run_items(rows, item_fn, progress, lease, key=key, url_key=url_key, threads=threads)
        lease.check()
        write_manifest(storage, target.manifest_rel, results)
        stats = ShardStats.from_results(spec.shard_id, results, progress.elapsed)
        lease.check()
        write_stats(storage, target.stats_rel, stats)
    log.info("%s: wrote %s (%s items: %s)", what, storage.uri(target.manifest_rel),
             stats.total, stats.counts)
    return stats


def _done(storage: Storage, target: ShardSpec, what: str) -> ShardStats:
    stats = read_stats(storage, target.stats_rel)
    log.info("%s: already done (%s), %s", what, storage.uri(target.stats_rel), stats.counts)
    return stats


def _run_items(rows: list[dict], item_fn: Callable[[dict], ItemResult], progress: Progress, lease: Lease, *,
               key: str, url_key: str, threads: int) -> list[ItemResult]:
    def run_one(row: dict) -> ItemResult:
        if lease.lost:  # another process holds the shard now: every further item would be a second writer's
            lease.check()
        item_key = str(row.get(key, ""))
        began = time.monotonic()
        try:
            with progress.running(item_key, url_host(row, url_key)):
                result = item_fn(row)
        except ItemError as err:
            result = ItemResult.failed(item_key, err.status, err.reason, err.detail)
        if not result.reused:
            result = replace(result, seconds=round(time.monotonic() - began, 3))
        progress.add(result)
        return result

    if threads > 1:
        keep_freed_buffers()
    progress.start()
    try:
        results = map_items(rows, run_one, threads)
    finally:
        progress.stop()
    progress.finish()
    return results


def url_host(row: dict, url_key: str = "") -> str:
    """``host[:port]`` of the row's URL (``row[url_key]``, else its first http(s) value), for progress lines;
    never the path or query, which may carry keys or signatures."""
    values = [row.get(url_key)] if url_key else row.values()
    for value in values:
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            try:
                parts = urlsplit(value)
                port = parts.port
            except ValueError:  # a port that is not a number: the item itself will fail with a reason
                return ""
            return (parts.hostname or "") + (f":{port}" if port and parts.hostname else "")
    return ""


def map_items(items: list[T], fn: Callable[[T], R], threads: int) -> list[R]:
    """``fn`` over ``items`` in order, in a thread pool. The first exception cancels what has not started
    and is re-raised once the running items end (their outputs are complete: writes are atomic)."""
    if threads <= 1:
        return [fn(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vf-item")
    futures = [pool.submit(fn, item) for item in items]
    try:
        return [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
