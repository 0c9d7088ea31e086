"""The engine side of cases 2, 5 and 6 as its own process (``datasets/flickr.py``).

* ``download LIST.tsv.gz OUT --processes 2``: ``plan_download`` + ``download_shard`` per shard in forked
  workers (short side 256, upscaling, JPEG q75, as upstream). Prints ``{"ok": n, ...}``.
* ``memmap LIST.tsv.gz OUT``: ``convert_to_mmap`` of ``OUT/lists/<name>`` (hard-linked in, not copied).
* ``crawl ENDPOINT KEY OUT DAY --strategy walk``: ``crawl_day``; prints requests, rows and the ids' file.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

from bench.engine_images import shard_totals


def _place_list(listing: str, out: str) -> str:
    lists = Path(out, "lists")
    lists.mkdir(parents=True, exist_ok=True)
    dst = lists / Path(listing).name
    if not dst.exists():
        try:
            os.link(listing, dst)
        except OSError:
            dst.symlink_to(Path(listing).resolve())
    return dst.name


def _download_one(job: tuple[str, dict]) -> dict:
    from include.visionflow.datasets import flickr
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    out, spec = job
    storage = open_storage(out)
    return flickr.download_shard(storage, storage, ShardSpec.from_xcom(spec), flickr.DownloadConfig()).to_dict()


def download(a: argparse.Namespace) -> dict:
    from include.visionflow.datasets import flickr
    from include.visionflow.storage import open_storage

    name = _place_list(a.list, a.out)
    specs = flickr.plan_download(open_storage(a.out), name)
    jobs = [(a.out, s.to_xcom()) for s in specs]
    with multiprocessing.get_context("fork").Pool(a.processes) as pool:
        stats = pool.map(_download_one, jobs, chunksize=1)
    return shard_totals(stats)


def memmap(a: argparse.Namespace) -> dict:
    from include.visionflow.datasets import flickr
    from include.visionflow.storage import open_storage

    return flickr.convert_to_mmap(open_storage(a.out), _place_list(a.list, a.out))


def crawl(a: argparse.Namespace) -> dict:
    import gzip

    from include.visionflow.datasets import flickr
    from include.visionflow.sources.flickr_api import FlickrClient, FlickrConfig
    from include.visionflow.storage import open_storage

    client = FlickrClient(FlickrConfig(api_key=a.key, endpoint=a.endpoint, requests_per_hour=1e9))
    storage = open_storage(a.out)
    result = flickr.crawl_day(client, storage, a.day, strategy=a.strategy, reprocess=True)
    with storage.local_copy(f"meta/{a.day}/flickr_images_{a.day}.tsv.gz") as path, gzip.open(path, "rt") as fh:
        ids = [line.split("\t", 1)[0] for line in fh if line.strip()]  # TSV v001: no header
    return {"requests": result.requests, "rows": result.rows, "duplicates": result.duplicates,
            "dropped": result.dropped, "unreachable": len(result.unreachable_slices), "ids": ids}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("download")
    d.add_argument("list")
    d.add_argument("out")
    d.add_argument("--processes", type=int, default=2)
    m = sub.add_parser("memmap")
    m.add_argument("list")
    m.add_argument("out")
    c = sub.add_parser("crawl")
    for arg in ("endpoint", "key", "out", "day"):
        c.add_argument(arg)
    c.add_argument("--strategy", default="walk")
    a = p.parse_args(argv)
    print(json.dumps({"download": download, "memmap": memmap, "crawl": crawl}[a.what](a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
