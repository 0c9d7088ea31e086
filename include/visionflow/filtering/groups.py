"""Exact and near duplicates over the whole dataset, from the shards' hash files, in bounded memory.

Input: the per-shard hash files (``hashfile``: key, md5, phash, ...), in shard order; item ``i`` of the dataset
is row ``i`` of their concatenation. Output: one decision file per hash file, row for row: ``kept``,
``exact_duplicate`` (same MD5 as ``representative``, the lowest key with those bytes) or ``near_duplicate``
(pHash within ``radius`` bits, transitively, of ``representative``, the lowest key of its group; ``distance``
is the Hamming distance to it, which can exceed the radius through a chain). Only the hash files are read, so
a new radius re-runs this module and never the hashing.

Near duplicates: multi-index hashing by pigeonhole, with an exact check. The 64 bits are cut into
``bands = radius + 2`` bands (6 of 10-11 bits at radius 4). Two hashes within ``radius`` bits differ in at
most ``radius`` bands, so at least two bands are identical: every near pair shares the value of some pair of
bands (one of C(6, 2) = 15 "combos", a 21-22-bit key). Each hash is written once per combo to a partition
file chosen by a hash of (combo, key), so equal keys meet in one partition; each partition is then processed
alone: sorted by key, identical hashes collapsed to their first row (a photo copied 10,000 times costs one
comparison, not 50 million), and every pair inside a key group checked exactly with popcount. A pair is
emitted only by the first combo whose bands it shares, so each near pair is found once. Union-find over the
emitted edges (scipy's connected components) gives the groups. Exact for any radius (no pair within the
radius can be missed), with ~N x 15 x 2^-21.5 x N/2 comparisons: ~N^2 / 400,000, so 400M hashes cost
~4e11 popcounts, minutes, not the 8e16 of all pairs.

Measured alternatives (200k random hashes, one core, this machine): faiss ``IndexBinaryMultiHash(64, 2, 32)``
with ``nflip=2`` (exact at radius 4: a pair within 4 bits has a 32-bit half within 2) took 146 us per query,
so 10M would take ~25 minutes for the search alone; the sorted bands group 10M in 73 s with a 387 MB
peak, and 1M in 6.3 s where the flat index's range search projects to 282 s (bench/results/filter-2026-12-07.md). ``bands = radius + 1`` (one identical band per pair,
5 copies instead of 15) writes a third of the scratch disk, but its 13-bit key groups hold N/8192 hashes
each, so its comparisons grow as N^2 / 1600: fine at 10M, hours at 400M.

Exact duplicates: each (md5, row) is written to one of ``P`` partition files by the MD5's first bytes (a
hash-partitioned external group-by); each partition is sorted alone.

What is held in memory, and why it is bounded:

* one partition at a time: at most ~``partition_rows`` records of 13 bytes (hash, row, combo) plus the sort's
  index arrays, ~50 bytes a record, whatever N is; the partition count grows with N instead
  (``15 N / partition_rows``). A single hash repeated millions of times lands in one partition whatever its
  size (13 bytes per copy); the pairing itself is cheap for it (collapsed first).
* one shard's columns while scattering or writing decisions (~24 bytes per row of that shard).
* the duplicate structure: the near-duplicate edges (8 bytes each), the rows that are in some group (row,
  group: 8 bytes each) and each group's lowest key. That grows with the number of duplicates, not with N:
  a crawl with 5% duplicates at 400M holds ~20M members (~160 MB) and their group keys.

Scratch disk (``scratch`` folder, local): 13 bytes x 15 combos + 20 bytes = ~215 bytes per item at radius 4,
~86 GB for 400M; removed at the end. The row number is 32 bits: at most 4,294,967,295 items.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from include.visionflow.errors import BadInputError
from include.visionflow.filtering import hashfile

log = logging.getLogger(__name__)

KEPT, EXACT, NEAR = "kept", "exact_duplicate", "near_duplicate"
BIG_GROUP = 256  # key groups larger than this are paired with faiss' SIMD flat index instead of numpy offsets
MAX_ROWS = (1 << 32) - 1


@dataclass(frozen=True)
class Params:
    radius: int = 4  # Hamming radius of 64 bits: the default
    hash_column: str = "phash"  # or "dhash"
    partition_rows: int = 4_000_000  # records per partition held in memory (~50 bytes each while sorting)
    bands: int | None = None  # default radius + 2 (see the module docstring)

    @property
    def band_count(self) -> int:
        return self.bands if self.bands is not None else self.radius + 2


@dataclass
class Summary:
    items: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    groups: int = 0  # near-duplicate groups of two or more items (exact copies included)
    group_sizes: dict[int, int] = field(default_factory=dict)  # size -> how many groups
    largest_group: int = 0
    edges: int = 0
    partitions: int = 0
    max_partition_records: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def default_out_rel(hash_rel: str) -> str:
    return hash_rel.replace(".hashes.parquet", ".groups.parquet") if ".hashes." in hash_rel \
        else hash_rel.replace(".parquet", ".groups.parquet")


# ---- bands -----------------------------------------------------------------------------------------------

class Bands:
    """The band layout and the combos of ``q = bands - radius`` bands every near pair shares."""

    def __init__(self, radius: int, bands: int):
        import numpy as np

        if not 0 <= radius < 64 or not radius < bands <= 16:
            raise BadInputError(f"radius {radius} with {bands} bands: need 0 <= radius < bands <= 16")
        self.radius, self.m, self.q = radius, bands, bands - radius
        widths = [64 // bands + (1 if b < 64 % bands else 0) for b in range(bands)]
        self.starts = [sum(widths[:b]) for b in range(bands)]
        self.widths = widths
        self.combos = list(itertools.combinations(range(bands), self.q))
        index = {c: i for i, c in enumerate(self.combos)}
        # For each mask of equal bands: the first combo it satisfies (its q lowest equal bands), or -1.
        first = np.full(1 << bands, -1, dtype=np.int16)
        for mask in range(1 << bands):
            equal = [b for b in range(bands) if mask >> b & 1]
            if len(equal) >= self.q:
                first[mask] = index[tuple(equal[: self.q])]
        self.first_combo = first

    def band(self, codes, b: int):
        import numpy as np

        return (codes >> np.uint64(self.starts[b])) & np.uint64((1 << self.widths[b]) - 1)

    def key(self, codes, combo: int):
        """The combo's bands concatenated (at most 64 bits)."""
        import numpy as np

        key = np.zeros(len(codes), dtype=np.uint64)
        for b in self.combos[combo]:
            key = (key << np.uint64(self.widths[b])) | self.band(codes, b)
        return key

    def equal_mask(self, x):
        """For XORs of hash pairs: which bands are identical, as a bit mask."""
        import numpy as np

        mask = np.zeros(len(x), dtype=np.int64)
        for b in range(self.m):
            mask |= (self.band(x, b) == 0).astype(np.int64) << b
        return mask


def _mix(values, salt: int):
    """A 64-bit multiplicative hash (Fibonacci hashing) to spread keys over partitions."""
    import numpy as np

    with np.errstate(over="ignore"):
        return (values + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(32)


# ---- the passes ------------------------------------------------------------------------------------------

NEAR_DTYPE = [("code", "<u8"), ("row", "<u4"), ("combo", "u1")]
MD5_DTYPE = [("hi", "<u8"), ("lo", "<u8"), ("row", "<u4")]


def _append(folder: Path, name: str, records) -> None:
    # os.path, not pathlib: pathlib interns every path part, and thousands of partition names grow Python's
    # interned-string table for good (the memory test saw it as 2 MB that never went away).
    with open(os.path.join(folder, name), "ab") as fh:
        records.tofile(fh)


def _scatter(storage, hash_rels, offsets, bands: Bands, params: Params, near_dir: Path, md5_dir: Path,
             p_near: int, p_md5: int) -> None:
    """One pass over the hash files: every hash to its combos' partitions, every MD5 to its partition."""
    import numpy as np

    near_dt, md5_dt = np.dtype(NEAR_DTYPE), np.dtype(MD5_DTYPE)
    for rel, start in zip(hash_rels, offsets):
        table = hashfile.read_columns(storage, rel, [params.hash_column, "md5"])
        n = table.num_rows
        if not n:
            continue
        codes = table.column(params.hash_column).to_numpy().astype(np.int64).view(np.uint64)
        rows = np.arange(start, start + n, dtype=np.uint32)
        for combo in range(len(bands.combos)):
            recs = np.empty(n, dtype=near_dt)
            recs["code"], recs["row"], recs["combo"] = codes, rows, combo
            part = _mix(bands.key(codes, combo), combo) % np.uint64(p_near)
            _write_parts(near_dir, recs, part)
        md5 = np.frombuffer(bytes.fromhex("".join(table.column("md5").to_pylist())), dtype=">u8").reshape(n, 2)
        recs = np.empty(n, dtype=md5_dt)
        recs["hi"], recs["lo"], recs["row"] = md5[:, 0], md5[:, 1], rows
        _write_parts(md5_dir, recs, _mix(recs["hi"] ^ recs["lo"], 0) % np.uint64(p_md5))


def _write_parts(folder: Path, recs, part) -> None:
    import numpy as np

    order = np.argsort(part, kind="stable")
    part, recs = part[order], recs[order]
    cuts = np.flatnonzero(np.diff(part)) + 1
    for chunk_start, chunk_end in zip(np.r_[0, cuts], np.r_[cuts, len(part)]):
        _append(folder, f"p{int(part[chunk_start]):06d}.bin", recs[chunk_start:chunk_end])


def _files(folder: Path) -> list[str]:
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def _pairs_in_groups(codes, starts, ends, radius: int):
    """Index pairs (i, j), i < j, inside the same [start, end) group with Hamming distance <= radius."""
    import numpy as np

    sizes = ends - starts
    found_i, found_j = [], []
    small = sizes <= BIG_GROUP
    # Small groups: compare each element with the one k places after it, k = 1, 2, ... (vectorized over all
    # groups at once; at most BIG_GROUP rounds, each over the elements that still have a k-th successor).
    group_of = np.repeat(np.arange(len(sizes)), sizes)  # the groups' elements, group by group
    pos = starts[group_of] + np.arange(len(group_of)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    inside = small[group_of]
    member, left = pos[inside], (ends[group_of] - pos - 1)[inside]
    k = 1
    while member.size:
        keep = left >= k
        member, left = member[keep], left[keep]
        if not member.size:
            break
        j = member + k
        hit = np.bitwise_count(codes[member] ^ codes[j]) <= radius
        found_i.append(member[hit])
        found_j.append(j[hit])
        k += 1
    for g in np.flatnonzero(~small):
        i, j = _pairs_faiss(codes[starts[g]:ends[g]], radius)
        found_i.append(i + starts[g])
        found_j.append(j + starts[g])
    if not found_i:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(found_i).astype(np.int64), np.concatenate(found_j).astype(np.int64)


def _pairs_faiss(codes, radius: int):
    """All pairs within ``radius`` of one large group: faiss' flat binary range search (SIMD popcount)."""
    import faiss
    import numpy as np

    x = np.ascontiguousarray(codes.view(np.uint8).reshape(-1, 8))
    index = faiss.IndexBinaryFlat(64)
    index.add(x)
    lims, _, ids = index.range_search(x, radius + 1)  # faiss keeps distances strictly below the radius given
    queries = np.repeat(np.arange(len(codes)), np.diff(lims.astype(np.int64)))  # faiss gives size_t limits
    upper = ids > queries
    return queries[upper].astype(np.int64), ids[upper].astype(np.int64)


def _near_partition(path: str, bands: Bands, radius: int):
    """Edges (row_a, row_b) found in one partition file, each near pair once over all partitions."""
    import numpy as np

    recs = np.fromfile(path, dtype=np.dtype(NEAR_DTYPE))
    edges = []
    for combo in np.unique(recs["combo"]):
        sel = recs[recs["combo"] == combo]
        codes, rows = sel["code"], sel["row"]
        key = bands.key(codes, int(combo))
        order = np.lexsort((rows, codes, key))
        key, codes, rows = key[order], codes[order], rows[order]
        # Identical hashes: every copy joins the first (lowest) row; only combo 0 says so (all bands are equal).
        same = (key[1:] == key[:-1]) & (codes[1:] == codes[:-1])
        first = np.r_[True, ~same]
        if combo == 0 and same.any():
            lead = rows[np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))]
            edges.append(np.stack([lead[~first], rows[~first]], axis=1))
        key, codes, rows = key[first], codes[first], rows[first]
        cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
        starts, ends = np.r_[0, cuts], np.r_[cuts, len(key)]
        multi = ends - starts > 1
        i, j = _pairs_in_groups(codes, starts[multi], ends[multi], radius)
        if i.size:
            owner = bands.first_combo[bands.equal_mask(codes[i] ^ codes[j])]
            mine = owner == combo
            edges.append(np.stack([rows[i[mine]], rows[j[mine]]], axis=1))
    return (np.concatenate(edges) if edges else np.empty((0, 2), dtype=np.uint32)), len(recs)


def _md5_partition(path: str):
    """(row, group) for every row whose MD5 another row shares; group = the lowest row with that MD5."""
    import numpy as np

    recs = np.fromfile(path, dtype=np.dtype(MD5_DTYPE))
    order = np.lexsort((recs["row"], recs["lo"], recs["hi"]))
    hi, lo, rows = recs["hi"][order], recs["lo"][order], recs["row"][order]
    same = (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])
    first = np.r_[True, ~same]
    in_group = np.r_[same, False] | np.r_[False, same]
    lead = rows[np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))]
    return np.stack([rows[in_group], lead[in_group]], axis=1), len(recs)


def _components(edges):
    """(members, labels): sorted rows that have a near duplicate, and their component ids."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not len(edges):
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int32)
    members, compact = np.unique(edges.ravel(), return_inverse=True)
    compact = compact.reshape(-1, 2)
    n = len(members)
    graph = coo_matrix((np.ones(len(compact), dtype=np.int8), (compact[:, 0], compact[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return members, labels.astype(np.int32)


def _lookup(members, labels, rows):
    """Labels of ``rows`` among sorted ``members`` (-1 where absent)."""
    import numpy as np

    if not len(members):
        return np.full(len(rows), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(members, rows), len(members) - 1)
    return np.where(members[pos] == rows, labels[pos], -1)


# ---- the whole grouping ----------------------------------------------------------------------------------

def group(storage, hash_rels: Sequence[str], scratch: str | Path, params: Params = Params(),
          out_rel: Callable[[str], str] = default_out_rel) -> Summary:
    """Group the items of ``hash_rels`` (in that order) and write one decision file per hash file.

    ``scratch`` is a local folder for the partition files (created, then removed). Returns the counts.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    began = time.monotonic()
    bands = Bands(params.radius, params.band_count)
    counts = [hashfile.count(storage, rel) for rel in hash_rels]
    offsets = np.r_[0, np.cumsum(counts)][:-1].astype(np.int64)
    total = int(sum(counts))
    if total > MAX_ROWS:
        raise BadInputError(f"{total} items: the grouping numbers rows in 32 bits (at most {MAX_ROWS})")
    p_near = max(1, math.ceil(total * len(bands.combos) / params.partition_rows))
    p_md5 = max(1, math.ceil(total / params.partition_rows))
    scratch = Path(scratch) / f"groups-{time.time_ns()}"
    near_dir, md5_dir = scratch / "near", scratch / "md5"
    near_dir.mkdir(parents=True)
    md5_dir.mkdir(parents=True)
    summary = Summary(items=total, partitions=p_near + p_md5)
    try:
        _scatter(storage, hash_rels, offsets, bands, params, near_dir, md5_dir, p_near, p_md5)
        edge_parts, exact_parts = [], []
        for path in _files(near_dir):
            edges, records = _near_partition(path, bands, params.radius)
            os.unlink(path)
            edge_parts.append(edges.astype(np.uint32))
            summary.max_partition_records = max(summary.max_partition_records, records)
        for path in _files(md5_dir):
            pairs, records = _md5_partition(path)
            os.unlink(path)
            exact_parts.append(pairs.astype(np.uint32))
            summary.max_partition_records = max(summary.max_partition_records, records)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    edges = np.concatenate(edge_parts) if edge_parts else np.empty((0, 2), dtype=np.uint32)
    del edge_parts
    summary.edges = int(len(edges))
    near_rows, near_label = _components(edges)
    del edges
    exact = np.concatenate(exact_parts) if exact_parts else np.empty((0, 2), dtype=np.uint32)
    order = np.argsort(exact[:, 0], kind="stable")
    exact_rows, exact_gid = exact[order, 0], exact[order, 1].astype(np.int64)
    del exact, exact_parts

    # Pass 1 over the hash files: each group's lowest key (and its hash, for the distance).
    near_best: dict[int, tuple[str, int]] = {}
    exact_best: dict[int, str] = {}
    for rel, start, n in zip(hash_rels, offsets, counts):
        if not n:
            continue
        rows = np.arange(start, start + n, dtype=np.uint32)
        nl, el = _lookup(near_rows, near_label, rows), _lookup(exact_rows, exact_gid, rows)
        idx = np.flatnonzero((nl >= 0) | (el >= 0))
        if not idx.size:
            continue
        table = hashfile.read_columns(storage, rel, ["key", params.hash_column])
        keys = table.column("key").take(pa.array(idx)).to_pylist()
        codes = table.column(params.hash_column).to_numpy()[idx].tolist()
        for i, key, code in zip(idx.tolist(), keys, codes):
            label, gid = int(nl[i]), int(el[i])
            if label >= 0 and (label not in near_best or key < near_best[label][0]):
                near_best[label] = (key, code)
            if gid >= 0 and (gid not in exact_best or key < exact_best[gid]):
                exact_best[gid] = key

    # Pass 2: the decisions, one file per hash file, row for row.
    decided: Counter = Counter()
    for rel, start, n in zip(hash_rels, offsets, counts):
        table = hashfile.read_columns(storage, rel, ["key", params.hash_column])
        keys = table.column("key").to_pylist()
        codes = table.column(params.hash_column).to_numpy()
        rows = np.arange(start, start + n, dtype=np.uint32)
        nl, el = _lookup(near_rows, near_label, rows), _lookup(exact_rows, exact_gid, rows)
        decision = [KEPT] * n
        rep: list[str | None] = [None] * n
        distance: list[int | None] = [None] * n
        for i in np.flatnonzero((nl >= 0) | (el >= 0)).tolist():
            key, gid, label = keys[i], int(el[i]), int(nl[i])
            if gid >= 0 and exact_best[gid] != key:
                decision[i], rep[i], distance[i] = EXACT, exact_best[gid], 0
            elif label >= 0 and near_best[label][0] != key:
                best_key, best_code = near_best[label]
                decision[i], rep[i] = NEAR, best_key
                distance[i] = int(np.bitwise_count(np.int64(codes[i]) ^ np.int64(best_code)))
        decided.update(decision)
        out = pa.table({"key": pa.array(keys, pa.string()), "decision": pa.array(decision, pa.string()),
                        "representative": pa.array(rep, pa.string()),
                        "distance": pa.array(distance, pa.int8())})
        buf = pa.BufferOutputStream()
        pq.write_table(out, buf)
        storage.write_bytes(out_rel(rel), buf.getvalue().to_pybytes())

    sizes = np.bincount(near_label) if len(near_label) else np.empty(0, dtype=np.int64)
    summary.counts = {d: decided.get(d, 0) for d in (KEPT, EXACT, NEAR)}
    summary.groups = int(len(sizes))
    summary.group_sizes = {int(s): int(c) for s, c in sorted(Counter(sizes.tolist()).items())}
    summary.largest_group = int(sizes.max()) if len(sizes) else 0
    summary.seconds = round(time.monotonic() - began, 3)
    log.info("grouped %s items in %.1f s: %s, %s groups (largest %s), %s edges, %s partitions",
             total, summary.seconds, summary.counts, summary.groups, summary.largest_group, summary.edges,
             summary.partitions)
    return summary


def read_decisions(storage, rel: str) -> list[dict]:
    """A decision file's rows (key, decision, representative, distance)."""
    import io

    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(storage.read_bytes(rel))).to_pylist()
