"""Streaming input lists cut into Parquet shards, and the shard runner.

Input lists can be many GB: rows are read one at a time and written out ``rows_per_shard`` at a time, so
memory stays flat. Each shard becomes one mapped Airflow task; XCom carries only ``ShardSpec`` dicts.
"""
from __future__ import annotations

import csv
import gzip
import io
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from include.visionflow.errors import BadInputError
from include.visionflow.manifest import (
    ItemResult,
    ShardStats,
    Status,
    write_manifest,
    write_stats,
)
from include.visionflow.memory import keep_freed_buffers
from include.visionflow.storage import Storage


log = logging.getLogger(__name__)

# Airflow refuses to map over more than 1024 items ([core] max_map_length); stay well below.
MAX_SHARDS = 500
T = TypeVar("T")


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

    @property
    def manifest_rel(self) -> str:
        return self.rel.replace("/shards/", "/manifests/").replace(".parquet", ".manifest.parquet")

    @property
    def stats_rel(self) -> str:
        return self.rel.replace("/shards/", "/manifests/").replace(".parquet", ".stats.json")


def rows_per_shard(total: int, minimum: int = 1000, max_shards: int = MAX_SHARDS, parallelism: int = 1) -> int:
    """The smallest shard size >= ``minimum`` that keeps the map under ``max_shards``; smaller shards when
    that would leave fewer than ``parallelism`` shards, so a small input still keeps every worker busy."""
    if not total:
        return max(1, minimum)
    per_shard = min(max(1, minimum), math.ceil(total / max(1, parallelism)))
    return max(per_shard, math.ceil(total / max_shards))


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a local text file, transparently gunzipping ``.gz``."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"input file {path} does not exist")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def iter_csv(path: str | Path, required: Iterable[str] = (), delimiter: str = ",") -> Iterator[dict]:
    """Rows of a CSV as dicts, streamed; a missing column is a clear error naming the file."""
    with open_text(path) as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise BadInputError(
                f"{path}: missing column(s) {missing}; found {reader.fieldnames}. "
                "Check that the URL points at the right metadata file."
            )
        yield from reader


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


def read_shard(storage: Storage, spec: ShardSpec) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(storage.read_bytes(spec.rel))).to_pylist()


def run_items(items: list[T], work: Callable[[T], ItemResult], key: Callable[[T], str], threads: int) -> list[ItemResult]:
    """Run ``work`` over items in a thread pool; an unexpected exception becomes a failed row, not a crash."""

    def guarded(item: T) -> ItemResult:
        try:
            return work(item)
        except Exception as err:  # noqa: BLE001 - one bad item must not take the shard down
            log.exception("item %s failed unexpectedly", key(item))
            return ItemResult.failed(key(item), Status.FAILED_DECODE, "unexpected_error", repr(err))

    if threads <= 1:
        return [guarded(i) for i in items]
    keep_freed_buffers()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vf-item") as pool:
        return list(pool.map(guarded, items))


def finish_shard(storage: Storage, spec: ShardSpec, results: list[ItemResult], started: float) -> ShardStats:
    """Manifest first, stats last: the stats file marks the shard done."""
    if len(results) != spec.count:
        raise AssertionError(f"shard {spec.shard_id}: {len(results)} results for {spec.count} items")
    write_manifest(storage, spec.manifest_rel, results)
    stats = ShardStats.from_results(spec.shard_id, results, time.monotonic() - started)
    write_stats(storage, spec.stats_rel, stats)
    log.info("shard %s done: %s", spec.shard_id, stats.counts)
    return stats
