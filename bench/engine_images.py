"""The engine side of cases 1 and 2, as its own process: shard the list, download the shards in parallel.

``python -m bench.engine_images rows.parquet OUT --size 1024 --processes 2`` (case 1's engine side). Shards are
written with the engine's ``write_shards`` and run with ``download_shard`` in a pool of ``--processes``
forked processes, as Airflow's LocalExecutor runs mapped ``download`` tasks side by side. Prints ``{"ok": n, "total": n, ...}``.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys



def shard_totals(stats: list[dict]) -> dict:
    """The runner's one-line result: counts summed over the shards' ``{"counts": ...}`` results."""
    counts: dict[str, int] = {}
    for shard in stats:
        for status, n in shard["counts"].items():
            counts[status] = counts.get(status, 0) + n
    return {"ok": counts.get("ok", 0), "total": sum(counts.values()), "counts": counts, "shards": len(stats)}

def _download(args: tuple[str, dict, int, int, int]) -> dict:
    out, spec_dict, size, quality, threads = args
    from include.visionflow.datasets import openimages
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    config = openimages.DownloadConfig(thumbnail_size=size, quality=quality, threads=threads)
    return openimages.download_shard(open_storage(out), ShardSpec.from_xcom(spec_dict), config).to_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("rows")
    p.add_argument("out")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--shards", type=int, default=0, help="number of shards (default: one per process)")
    a = p.parse_args(argv)

    import pyarrow.parquet as pq

    from include.visionflow.datasets.openimages import SHARD_COLUMNS
    from include.visionflow.shards import write_shards
    from include.visionflow.storage import open_storage

    rows = pq.read_table(a.rows).to_pylist()
    per_shard = math.ceil(len(rows) / (a.shards or a.processes))
    storage = open_storage(a.out)
    specs = write_shards(storage, "_work/bench/train", ({**r, "split": "train"} for r in rows), per_shard,
                         SHARD_COLUMNS + ["split"], label="train")
    jobs = [(a.out, s.to_xcom(), a.size, a.quality, a.threads) for s in specs]
    if a.processes <= 1:
        stats = [_download(j) for j in jobs]
    else:
        # fork, as Airflow's LocalExecutor starts task processes: workers do not re-import the engine
        with multiprocessing.get_context("fork").Pool(a.processes) as pool:
            stats = pool.map(_download, jobs, chunksize=1)
    print(json.dumps(shard_totals(stats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
