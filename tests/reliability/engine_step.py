"""One engine step in its own process, called the way its operator calls it, so a test can SIGKILL it.

``python tests/reliability/engine_step.py '<json>'`` with ``{"step": ..., "root": ..., ...}``; the process
prints nothing and exits 0 when the step completes.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def openimages_download(args: dict) -> None:
    from include.visionflow.datasets import openimages as oi
    from include.visionflow.fetch.http import FetchConfig, Fetcher
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    storage = open_storage(args["root"])
    config = oi.DownloadConfig(threads=args["threads"])
    oi.download_shard(storage, ShardSpec.from_xcom(args["shard"]), config, Fetcher(FetchConfig(**args["fetch"])))


def video_frames(args: dict) -> None:
    from include.visionflow.datasets import video_frames as vf
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    storage = open_storage(args["root"])
    options = vf.frame_options(fps=args["fps"], short_side=args["short_side"])
    vf.extract_shard(storage, ShardSpec.from_xcom(args["shard"]), args["video_dir"], options, threads=1)


def flickr_crawl_day(args: dict) -> None:
    from include.visionflow.datasets.flickr import crawl_day
    from include.visionflow.sources.flickr_api import FlickrClient, FlickrConfig
    from include.visionflow.storage import open_storage

    config = FlickrConfig(api_key=args["api_key"], endpoint=args["endpoint"], requests_per_hour=1e7)
    client = FlickrClient(config)  # as FlickrHook.client() makes it
    crawl_day(client, open_storage(args["root"]), args["day"], strategy=args["strategy"])


def openimages_tarballs(args: dict) -> None:
    from include.visionflow.datasets.openimages_tarballs import sync_tarball
    from include.visionflow.storage import S3Options, open_storage

    source = S3Options(endpoint_url=args["endpoint"], access_key="testing", secret_key="testing")
    storage = open_storage(args["root"])
    for key in args["keys"]:  # one mapped task per key in the DAG: here one after the other
        sync_tarball(source, key, storage, bucket=args["bucket"])


STEPS = {f.__name__: f for f in (openimages_download, video_frames, flickr_crawl_day, openimages_tarballs)}

if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    STEPS[arguments["step"]](arguments)
