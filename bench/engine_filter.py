"""The sides of the filter cases (31-34), each as its own process so ``run_measured`` sees only its work.

``python -m bench.engine_filter hash LIST``: visionflow's signatures (pHash, dHash, MD5, sizes) of every
file in LIST, one process, one thread; prints ``{"count", "loop_s"}`` (``loop_s``: the hashing loop alone,
imports excluded). The imagededup side is ``IMAGEDEDUP_HASH`` run by the imagededup venv's python.
``prepare DIR N`` writes N synthetic 64-bit hashes (1% planted near copies, 0-4 bits flipped) as hash files
of 100k rows; ``group DIR SCRATCH`` groups them with ``filtering.groups``; ``flat DIR QUERIES`` is the plain
reference: every hash in one ``faiss.IndexBinaryFlat``, a range search (radius 4) for the first QUERIES
hashes, then connected components; it prints the measured seconds per query, from which the whole run is
projected (all N queries would take hours at 1M).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROWS_PER_FILE = 100_000

# Run by the imagededup venv's python: PHash (hash_size 8, 64 bits) per file, in one process.
IMAGEDEDUP_HASH = """
import json, sys, time
from imagededup.methods import PHash
files = open(sys.argv[1]).read().split()
ph = PHash(verbose=False)
t = time.perf_counter()
codes = [ph.encode_image(image_file=f) for f in files]
print(json.dumps({"count": sum(c is not None for c in codes), "loop_s": time.perf_counter() - t}))
"""


def hash_files(list_path: str) -> dict:
    from include.visionflow.filtering.signatures import compute

    import imagehash  # noqa: F401 - imported before the timing, as the imagededup side imports its own
    import numpy  # noqa: F401
    import scipy.fftpack  # noqa: F401

    files = Path(list_path).read_text().split()
    began = time.perf_counter()
    count = sum(1 for f in files if compute(f, Path(f).read_bytes()))
    return {"count": count, "loop_s": time.perf_counter() - began}


def prepare(folder: str, n: int, seed: int = 0) -> dict:
    """N random hashes, 1% of them near copies of others, as hash files (typed Parquet) under ``folder``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from include.visionflow.filtering import hashfile

    out = Path(folder)
    if (out / "done.json").exists():
        return json.loads((out / "done.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << 64, size=n, dtype=np.uint64)
    planted = rng.choice(n, size=n // 100, replace=False)
    sources = rng.integers(0, n, size=len(planted))
    flips = np.zeros(len(planted), dtype=np.uint64)
    for _ in range(4):  # up to 4 bits flipped (a bit may be flipped twice: 0-4 bits differ)
        flips ^= np.uint64(1) << rng.integers(0, 64, size=len(planted)).astype(np.uint64)
    codes[planted] = codes[sources] ^ flips
    md5 = rng.integers(0, 1 << 64, size=(n, 2), dtype=np.uint64)
    for f, start in enumerate(range(0, n, ROWS_PER_FILE)):
        stop = min(n, start + ROWS_PER_FILE)
        count = stop - start
        hexes = np.char.add(np.char.mod("%016x", md5[start:stop, 0]), np.char.mod("%016x", md5[start:stop, 1]))
        table = pa.table({
            "key": pa.array(np.char.mod("k%010d", np.arange(start, stop))), "md5": pa.array(hexes),
            "phash": pa.array(codes[start:stop].view(np.int64)), "dhash": pa.array(np.zeros(count, np.int64)),
            "width": pa.array(np.full(count, 500, np.int32)), "height": pa.array(np.full(count, 375, np.int32)),
            "bytes": pa.array(np.full(count, 50_000, np.int64)),
            "grey_std": pa.array(np.full(count, 40.0, np.float32))}, schema=hashfile.schema())
        pq.write_table(table, out / f"shard-{f:05d}.hashes.parquet")
    info = {"n": n, "planted": int(len(planted)), "files": (n + ROWS_PER_FILE - 1) // ROWS_PER_FILE}
    (out / "done.json").write_text(json.dumps(info))
    return info


def hash_rels(folder: str) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("shard-*.hashes.parquet"))


def group(folder: str, scratch: str) -> dict:
    from include.visionflow.filtering import groups
    from include.visionflow.storage import open_storage

    storage = open_storage(folder)
    began = time.perf_counter()
    summary = groups.group(storage, hash_rels(folder), scratch,
                           out_rel=lambda rel: "groups/" + rel.replace(".hashes.", ".groups."))
    return {"count": summary.items, "loop_s": time.perf_counter() - began, "counts": summary.counts,
            "groups": summary.groups, "edges": summary.edges, "partitions": summary.partitions,
            "max_partition_records": summary.max_partition_records}


def flat(folder: str, queries: int) -> dict:
    import faiss
    import numpy as np
    import pyarrow.parquet as pq

    codes = np.concatenate([pq.read_table(Path(folder) / rel, columns=["phash"]).column("phash").to_numpy()
                            for rel in hash_rels(folder)]).view(np.uint8).reshape(-1, 8)
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    began = time.perf_counter()
    lims, _, ids = index.range_search(codes[:queries], 5)  # strictly below 5: within 4 bits
    seconds = time.perf_counter() - began
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    q = np.repeat(np.arange(queries), np.diff(lims.astype(np.int64)))
    graph = coo_matrix((np.ones(len(ids), np.int8), (q, ids)), shape=(len(codes), len(codes)))
    connected_components(graph, directed=False)
    return {"count": len(codes), "queries": queries, "loop_s": seconds, "s_per_query": seconds / queries,
            "projected_all_s": seconds / queries * len(codes), "threads": faiss.omp_get_max_threads()}


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "hash":
        result = hash_files(args[0])
    elif command == "prepare":
        result = prepare(args[0], int(args[1]))
    elif command == "group":
        result = group(args[0], args[1])
    elif command == "flat":
        result = flat(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
