"""Per-item status rows and per-shard stats.

Every item of a shard ends with exactly one row: ``ok`` or a failure status with a reason *code*
(``http_404``, ``md5_mismatch``, ...) and free text in ``detail``. The manifest is a Parquet file; the stats
JSON is written after it and doubles as the shard's done marker.
"""
from __future__ import annotations

import enum
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # storage imports errors, which imports Status from here
    from include.visionflow.storage import Storage


class Status(str, enum.Enum):
    OK = "ok"
    FAILED_DOWNLOAD = "failed_download"
    FAILED_CHECKSUM = "failed_checksum"
    FAILED_DECODE = "failed_decode"
    REFUSED = "refused"
    BAD_ROW = "bad_row"  # a value in the input row is unusable (hostile id, unsafe name): fix the input


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item. ``reason`` is a short code; ``detail`` is for humans."""

    key: str
    status: Status
    reason: str = ""
    detail: str = ""
    output: str = ""
    bytes: int = 0
    width: int | None = None
    height: int | None = None
    reused: bool = False  # output was already there and verified: nothing fetched
    frames: int | None = None  # frames written, for video items
    duration: float | None = None  # seconds of media, for video items
    seconds: float = 0.0  # wall time spent on the item (0 when reused)

    @classmethod
    def failed(cls, key: str, status: Status, reason: str, detail: str = "") -> "ItemResult":
        return cls(key=key, status=status, reason=reason, detail=detail[:500])


MANIFEST_SCHEMA_FIELDS = ("key", "status", "reason", "detail", "output", "bytes", "width", "height", "reused",
                          "frames", "duration", "seconds")


@dataclass
class ShardStats:
    shard_id: int
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    reused: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @classmethod
    def from_results(cls, shard_id: int, results: list[ItemResult], seconds: float) -> "ShardStats":
        counts = Counter(r.status.value for r in results)
        reasons = Counter(r.reason for r in results if r.status is not Status.OK)
        return cls(
            shard_id=shard_id,
            total=len(results),
            counts=dict(counts),
            reasons=dict(reasons),
            reused=sum(r.reused for r in results),
            bytes=sum(r.bytes for r in results),
            seconds=round(seconds, 3),
        )

    @property
    def ok(self) -> int:
        return self.counts.get(Status.OK.value, 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ShardStats":
        return cls(**data)


def write_manifest(storage: Storage, rel: str, results: list[ItemResult]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [getattr(r, name) for r in results] for name in MANIFEST_SCHEMA_FIELDS}
    columns["status"] = [s.value for s in columns["status"]]
    schema = pa.schema(
        [
            ("key", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("detail", pa.string()),
            ("output", pa.string()),
            ("bytes", pa.int64()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("reused", pa.bool_()),
            ("frames", pa.int64()),
            ("duration", pa.float64()),
            ("seconds", pa.float64()),
        ]
    )
    buf = io.BytesIO()
    pq.write_table(pa.table(columns, schema=schema), buf)
    storage.write_bytes(rel, buf.getvalue())


def read_manifest(storage: Storage, rel: str) -> list[ItemResult]:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(storage.read_bytes(rel)))
    rows = table.to_pylist()
    # manifests written before a column existed read with that column's default
    return [ItemResult(**{**row, "status": Status(row["status"])}) for row in rows]


def write_stats(storage: Storage, rel: str, stats: ShardStats) -> None:
    storage.write_text(rel, json.dumps(stats.to_dict(), indent=1, sort_keys=True))


def read_stats(storage: Storage, rel: str) -> ShardStats:
    return ShardStats.from_dict(json.loads(storage.read_text(rel)))


def merge_stats(stats: list[ShardStats]) -> dict:
    """Totals over shards, for summary.json."""
    counts: Counter = Counter()
    reasons: Counter = Counter()
    for s in stats:
        counts.update(s.counts)
        reasons.update(s.reasons)
    return {
        "shards": len(stats),
        "items": sum(s.total for s in stats),
        "counts": {status.value: counts.get(status.value, 0) for status in Status},
        "reasons": dict(reasons.most_common()),
        "reused": sum(s.reused for s in stats),
        "bytes": sum(s.bytes for s in stats),
    }
