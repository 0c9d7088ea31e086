"""Openverse image TSV v001: 20 columns, no header, ``\\N`` for null, JSON columns with ``ensure_ascii=False``.

visionflow's daily Flickr files add a 21st column, the ``%04d`` bucket used by the subset builder
(formats.md §1.1). Column order and cleaning follow Openverse's ``ImageStore`` (openverse-flickr.md §3): text
has its whitespace collapsed (so a tab or newline can never break a row), ``"`` becomes ``'``, backslashes are
escaped, and title / creator are truncated to 5,000 / 2,000 characters. URLs are never truncated.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

NULL = "\\N"
COLUMNS = (
    "foreign_identifier", "foreign_landing_url", "url", "thumbnail", "filetype", "filesize", "license",
    "license_version", "creator", "creator_url", "title", "meta_data", "tags", "category", "watermarked",
    "provider", "source", "ingestion_type", "width", "height",
)
BUCKETS = 10_000
TITLE_MAX = 5000
CREATOR_MAX = 2000
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class ImageRecord:
    """One row of image TSV v001 (database column names)."""

    foreign_identifier: str
    foreign_landing_url: str
    url: str
    license: str
    license_version: str
    thumbnail: str | None = None
    filetype: str | None = None
    filesize: int | None = None
    creator: str | None = None
    creator_url: str | None = None
    title: str | None = None
    meta_data: dict[str, Any] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    category: str | None = None
    watermarked: str = "f"
    provider: str | None = None
    source: str | None = None
    ingestion_type: str = "provider_api"
    width: int | None = None
    height: int | None = None


def bucket_for(identifier: str) -> str:
    """A bucket in 0000-9999 derived from the id alone, so re-crawls and re-runs agree (upstream: random)."""
    digest = hashlib.md5(identifier.encode("utf-8")).digest()
    return f"{int.from_bytes(digest[:8], 'big') % BUCKETS:04d}"


def clean_text(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = _WS.sub(" ", str(value)).strip().replace('"', "'").replace("\\", "\\\\")
    if limit is not None:
        text = text[:limit]
    return text or None


def _cell(value: Any) -> str:
    if value is None or value == "":
        return NULL
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=False).replace("\t", " ").replace("\n", " ")
    return _WS.sub(" ", str(value)).strip() or NULL


def to_row(record: ImageRecord, with_bucket: bool = True) -> str:
    """The TSV line (no newline) for ``record``: 20 columns, plus the bucket if asked."""
    cells = [
        record.foreign_identifier, record.foreign_landing_url, record.url, record.thumbnail, record.filetype,
        record.filesize, record.license, record.license_version, clean_text(record.creator, CREATOR_MAX),
        record.creator_url, clean_text(record.title, TITLE_MAX), record.meta_data or None,
        record.tags or None, record.category, record.watermarked, record.provider, record.source,
        record.ingestion_type, record.width, record.height,
    ]
    row = [_cell(c) for c in cells]
    if with_bucket:
        row.append(bucket_for(record.foreign_identifier))
    return "\t".join(row)


def parse_row(line: str) -> dict[str, Any]:
    """A TSV line back into a dict of raw column strings (None for ``\\N``), plus ``bucket`` if present."""
    cells = line.rstrip("\n").split("\t")
    if len(cells) not in (len(COLUMNS), len(COLUMNS) + 1):
        raise ValueError(f"expected {len(COLUMNS)} or {len(COLUMNS) + 1} columns, got {len(cells)}")
    row = {name: (None if v == NULL else v) for name, v in zip(COLUMNS, cells)}
    row["bucket"] = cells[len(COLUMNS)] if len(cells) > len(COLUMNS) else None
    return row


class GzipTsvWriter:
    """Streams rows into a gzip file object; counts them."""

    def __init__(self, fh: IO[bytes]):
        # mtime=0 keeps the gzip bytes reproducible: same rows, same file, same md5.
        self._gz = gzip.GzipFile(fileobj=fh, mode="wb", mtime=0)
        self._text = io.TextIOWrapper(self._gz, encoding="utf-8", newline="\n")
        self.rows = 0

    def write_line(self, line: str) -> None:
        self._text.write(line)
        self._text.write("\n")
        self.rows += 1

    def write(self, record: ImageRecord) -> None:
        self.write_line(to_row(record))

    def close(self) -> None:
        self._text.flush()
        self._text.detach()
        self._gz.close()


def iter_lines(fh: IO[bytes]) -> Iterator[str]:
    """Lines of a gzip TSV stream, without their newlines."""
    with gzip.open(fh, "rt", encoding="utf-8", newline="\n") as text:
        for line in text:
            if line.strip():
                yield line.rstrip("\n")
