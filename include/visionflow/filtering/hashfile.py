"""A shard's signatures as one Parquet file with typed columns: the only input the grouping reads.

Written by the per-shard hashing task beside the shard's manifest, read back column by column by the
grouping (it asks only for the columns it needs, e.g. ``phash`` and ``md5``, so reading a shard costs ~24
bytes per image). Keeping the hashes on storage is what lets a threshold change re-run only the grouping.
"""
from __future__ import annotations

import io
from typing import Iterable

from include.visionflow.filtering.signatures import Signature

COLUMNS = ("key", "md5", "phash", "dhash", "width", "height", "bytes", "grey_std")


def schema():
    import pyarrow as pa

    return pa.schema([("key", pa.string()), ("md5", pa.string()), ("phash", pa.int64()), ("dhash", pa.int64()),
                      ("width", pa.int32()), ("height", pa.int32()), ("bytes", pa.int64()),
                      ("grey_std", pa.float32())])


def to_table(signatures: Iterable[Signature]):
    import pyarrow as pa

    rows = list(signatures)
    return pa.table({c: [getattr(s, c) for s in rows] for c in COLUMNS}, schema=schema())


def to_bytes(signatures: Iterable[Signature]) -> bytes:
    """The Parquet bytes (for ``Storage.write_bytes``, which publishes them atomically)."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(to_table(signatures), buf)
    return buf.getvalue()


def write(storage, rel: str, signatures: Iterable[Signature]) -> None:
    storage.write_bytes(rel, to_bytes(signatures))


def read_columns(storage, rel: str, columns: Iterable[str]):
    """Only ``columns`` of one hash file, as a pyarrow Table."""
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(storage.read_bytes(rel)), columns=list(columns))


def count(storage, rel: str) -> int:
    """Rows in a hash file, from its footer (no column is read)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(io.BytesIO(storage.read_bytes(rel))).metadata.num_rows
