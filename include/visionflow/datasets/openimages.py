"""OpenImages V4 (PRIMO): where the OpenImages dataset is defined.

Recipe: fetch the two metadata CSVs into ``<root>/metadata/``; split (target = boxable ids; train = the first
``train_size`` rows with Subset=train not in target, in file order; extended_targets = the rest); cut each
split into shards; per shard download -> MD5 against ``OriginalMD5`` (base64) -> thumbnail -> RGB JPEG at
``<root>/<split>/images/<id[:2]>/<id>.jpg``; a summary per split. Tarballs are in ``openimages_tarballs.py``.

Memory stays flat for the real 9M-row CSV: it is streamed in blocks with pyarrow, and the 1.7M boxable ids
are held as a sorted uint64 array (16 hex chars = 64 bits), not as Python strings.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from include.visionflow.errors import BadInputError, ChecksumError, FetchError
from include.visionflow.fetch.http import Fetcher
from include.visionflow.images import ImageSpec, transform_image
from include.visionflow.inputs import is_local_path, local_input
from include.visionflow.manifest import ItemResult, ShardStats, Status, merge_stats, read_stats
from include.visionflow.paths import safe_component
from include.visionflow.progress import Progress
from include.visionflow.shards import ShardSpec, malformed_csv, process_shard, rows_per_shard, write_shards
from include.visionflow.storage import Storage
from include.visionflow.verify import md5_hex, normalize_md5

log = logging.getLogger(__name__)

SPLITS = ("train", "extended_targets")
METADATA_COLUMNS = ["ImageID", "Subset", "OriginalURL", "OriginalMD5"]
SHARD_COLUMNS = ["ImageID", "OriginalURL", "OriginalMD5"]
METADATA_REL = "metadata/image_ids_and_rotation.csv"
BOXABLE_REL = "metadata/train-images-boxable-with-rotation.csv"
# pyarrow CSV block size: bounds memory per batch. 16 MB blocks peaked at ~800 MB RSS on a 10M-row CSV
# (bench case 8: the reader parses ahead several blocks); 1 MB peaks at ~125 MB and reads faster.
BLOCK = 1 << 20


@dataclass(frozen=True)
class DownloadConfig:
    thumbnail_size: int = 1024
    quality: int = 90
    threads: int = 16

    @property
    def image_spec(self) -> ImageSpec:
        return ImageSpec(mode="thumbnail", size=self.thumbnail_size, upscale=False, quality=self.quality)


def fetch_metadata(storage: Storage, url: str, rel: str, fetcher: Fetcher, refresh: bool = False) -> str:
    """Copy a metadata CSV (http(s) URL or local path) to ``rel`` in storage and check its header."""
    if refresh or not storage.exists(rel):
        staging = storage.staging_dir()
        with tempfile.TemporaryDirectory(dir=staging) as tmp:
            local = Path(tmp, Path(rel).name)
            if is_local_path(url):
                source = local_input(url, "metadata")
                if not source.is_file():
                    raise BadInputError(f"metadata {url!r} is not a file")
                shutil.copyfile(source, local)  # streamed: the CSV can be larger than memory
            else:
                try:
                    fetcher.download_to(url, local)
                except FetchError as err:
                    raise BadInputError(f"cannot download metadata {url}: {err}. Check the URL param.") from None
            check_header(local, url)
            storage.put_file(rel, local)
    else:
        log.info("%s already present; not downloading %s again", rel, url)
    return rel


def check_header(path: Path, source: str) -> None:
    with open(path, "rb") as fh:
        header = fh.readline(65536).decode("utf-8", "replace").strip().lstrip("\ufeff").split(",")
    missing = [c for c in METADATA_COLUMNS if c not in header]
    if missing:
        # The header is not quoted back: a wrong local path must not leak the first line of that file.
        raise BadInputError(
            f"metadata {source} lacks column(s) {missing} ({len(header)} column(s) found); it should be "
            "image_ids_and_rotation.csv or train-images-boxable-with-rotation.csv from OpenImages V4"
        )


def _record_batches(path: Path, columns: list[str]) -> Iterator:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    # a pass over the real 9M-row file takes minutes: say how far it got
    progress = Progress(f"reading {path.name}", None, unit="rows")
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK),
            convert_options=pacsv.ConvertOptions(include_columns=columns,
                                                 column_types={c: "string" for c in columns}),
        )
        for batch in reader:
            progress.add(count=batch.num_rows)
            yield batch
    except pa.ArrowInvalid as err:  # a malformed row: bad input naming the line, not a retried crash
        raise malformed_csv(path, err) from None
    progress.finish()


def _id_to_u64(image_id: str) -> int:
    try:
        value = int(image_id, 16)
    except (TypeError, ValueError):
        return -1
    return value if value < 1 << 64 else -1


def _ids_u64(column) -> tuple[np.ndarray, np.ndarray]:
    """``int(id, 16)`` of a string column as uint64 values and a validity mask (``_id_to_u64`` >= 0).

    Real ImageIDs are 16 hex digits: then the whole block is decoded at once with ``bytes.fromhex`` (the
    per-row ``int()`` was most of the plan's time on a 10M-row CSV). Anything else takes the per-row path.
    """
    import pyarrow.compute as pc

    n = len(column)
    if n and column.null_count == 0 and pc.all(pc.equal(pc.utf8_length(column), 16)).as_py():
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset:column.offset + n + 1]
        text = column.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]
        try:
            raw = bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raw = b""
        if len(raw) == 8 * n:  # whitespace (which fromhex skips) or odd input would leave fewer bytes
            return np.frombuffer(raw, dtype=">u8").astype(np.uint64), np.ones(n, dtype=bool)
    values = [_id_to_u64(v) for v in column.to_pylist()]
    valid = np.array([v >= 0 for v in values], dtype=bool)
    return np.array([max(v, 0) for v in values], dtype=np.uint64), valid


def _release_arrow_memory() -> None:
    """Hand the reader's freed blocks back to the OS before the next big allocation (bench case 8)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def load_id_set(path: Path) -> np.ndarray:
    """Sorted uint64 array of the ImageIDs in a CSV."""
    parts = []
    for batch in _record_batches(path, ["ImageID"]):
        ids, valid = _ids_u64(batch.column("ImageID"))
        parts.append(ids[valid])
    _release_arrow_memory()
    if not parts:
        return np.empty(0, dtype=np.uint64)
    # np.unique, in place: it would hold three more copies of the ~2M ids at once.
    ids = np.concatenate(parts)
    parts.clear()
    ids.sort()
    keep = np.empty(len(ids), dtype=bool)
    keep[:1] = True
    np.not_equal(ids[1:], ids[:-1], out=keep[1:])
    return ids[keep]


def _candidate_batches(path: Path, targets: np.ndarray) -> Iterator:
    """Record batches of the rows with Subset=train whose id is not a target, in file order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for batch in _record_batches(path, METADATA_COLUMNS):
        ids, _ = _ids_u64(batch.column("ImageID"))  # an invalid id is 0, as max(_id_to_u64(id), 0) was
        pos = np.searchsorted(targets, ids)
        in_targets = (pos < len(targets)) & (targets[np.minimum(pos, len(targets) - 1)] == ids) if len(targets) \
            else np.zeros(len(ids), dtype=bool)
        keep = pc.and_(pc.equal(batch.column("Subset"), "train"), pa.array(~in_targets))
        yield batch.filter(keep).select(SHARD_COLUMNS)


def _candidates(path: Path, targets: np.ndarray) -> Iterator[dict]:
    """Rows with Subset=train whose id is not a target, in file order."""
    for batch in _candidate_batches(path, targets):
        yield from batch.to_pylist()


def plan_shards(storage: Storage, work_rel: str, splits: list[str], train_size: int,
                min_shard: int = 1000, parallelism: int = 1) -> list[ShardSpec]:
    """Split the metadata and write shards for the requested splits; two streaming passes. Each split gets
    at least ``parallelism`` shards when it has rows enough, else shards of ``min_shard`` rows."""
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        raise BadInputError(f"splits {splits!r}: choose one or more of {list(SPLITS)}")
    if train_size < 0:
        raise BadInputError(f"train_size {train_size} must be >= 0")
    with storage.local_copy(METADATA_REL) as meta, storage.local_copy(BOXABLE_REL) as boxable:
        targets = load_id_set(boxable)
        total = sum(b.num_rows for b in _candidate_batches(meta, targets))
        _release_arrow_memory()
        counts = {"train": min(train_size, total), "extended_targets": max(0, total - train_size)}
        log.info("targets %s, candidates %s -> %s", len(targets), total, counts)
        specs: list[ShardSpec] = []
        for split in splits:
            rows = _split_rows(_candidates(meta, targets), split, train_size)
            per_shard = rows_per_shard(counts[split], min_shard, max_shards=400 // len(splits),
                                       parallelism=parallelism)
            specs += write_shards(storage, f"{work_rel}/{split}", rows, per_shard, SHARD_COLUMNS + ["split"],
                                  label=split, first_id=len(specs))
    return specs


def _split_rows(rows: Iterator[dict], split: str, train_size: int) -> Iterator[dict]:
    for n, row in enumerate(rows):
        if (n < train_size) == (split == "train"):
            yield {**row, "split": split}
        elif split == "train":
            return


def image_rel(split: str, image_id: str) -> str:
    """Where an image lands; the id comes from the metadata, so it goes through the path check."""
    return f"{safe_component(split, 'split')}/images/{image_id[:2]}/{safe_component(image_id, 'image id')}.jpg"


def download_item(row: dict, storage: Storage, fetcher: Fetcher, config: DownloadConfig) -> ItemResult:
    """One image: skip if done, else fetch -> verify -> thumbnail -> atomic write."""
    key, url, expected = row["ImageID"], row["OriginalURL"], row["OriginalMD5"]
    dest = image_rel(row["split"], key)
    if storage.exists(dest):  # outputs only ever appear verified (atomic rename), so existence is enough
        return ItemResult(key, Status.OK, output=dest, reused=True)
    try:
        want = normalize_md5(expected)
    except BadInputError as err:
        raise ChecksumError("bad_expected_md5", str(err)) from err
    data = fetcher.fetch_bytes(url)
    if md5_hex(data) != want:
        raise ChecksumError("md5_mismatch", f"{len(data)} bytes from {url}")
    image = transform_image(data, config.image_spec)
    storage.write_bytes(dest, image.jpeg)
    return ItemResult(key, Status.OK, output=dest, bytes=len(data), width=image.width, height=image.height)


def download_shard(storage: Storage, spec: ShardSpec, config: DownloadConfig,
                   fetcher: Fetcher | None = None) -> ShardStats:
    fetcher = fetcher or Fetcher()
    return process_shard(storage, spec, lambda r: download_item(r, storage, fetcher, config), key="ImageID",
                         threads=config.threads, log_name="openimages download", url_key="OriginalURL")


def summarize(storage: Storage, specs: list[ShardSpec], extra: dict | None = None) -> dict:
    """Counts per status and reason for each split, written to ``<split>/summary.json``."""
    by_split: dict[str, list[ShardStats]] = {}
    for spec in specs:
        by_split.setdefault(spec.label, []).append(read_stats(storage, spec.stats_rel))
    summary = {}
    for split, stats in sorted(by_split.items()):
        summary[split] = {"split": split, "output": storage.uri(f"{split}/images"), **merge_stats(stats)}
        storage.write_text(f"{split}/summary.json", json.dumps(summary[split], indent=1))
    if extra:
        summary.update(extra)
    return summary
