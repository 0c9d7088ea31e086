"""Shard counts follow the workers as well as the rows: a small input is cut into ``parallelism`` shards,
a large one keeps shards of ``min_shard`` rows, and the map never exceeds its cap."""
from __future__ import annotations

import gzip
import math

from include.visionflow.datasets.flickr import plan_download
from include.visionflow.shards import MAX_SHARDS, rows_per_shard
from include.visionflow.storage import open_storage


def shards(total: int, minimum: int = 1000, parallelism: int = 1) -> int:
    return math.ceil(total / rows_per_shard(total, minimum, parallelism=parallelism))


def test_small_inputs_use_every_worker():
    assert shards(2000, parallelism=16) == 16  # the 16-core bench: 2 shards before, 14 cores idle
    assert shards(3030, parallelism=4) == 4
    assert shards(3, parallelism=8) == 3  # never an empty shard
    assert shards(2000) == 2 and rows_per_shard(0, parallelism=8) == 1000  # parallelism 1: as before


def test_large_inputs_keep_the_minimum_and_the_cap():
    assert rows_per_shard(100_000, 1000, parallelism=16) == 1000
    assert shards(9_178_275, parallelism=64) <= MAX_SHARDS
    assert shards(9_178_275, 1000, parallelism=10_000) <= MAX_SHARDS


def test_flickr_plan_cuts_by_parallelism_and_keeps_cuts_apart(tmp_path):
    storage = open_storage(str(tmp_path))
    lines = "".join(f"{n}\thttp://127.0.0.1/{n}.jpg\timages/0/0/0/0000/{n}.jpg\n" for n in range(10))
    storage.write_bytes("lists/flickr.tsv.gz", gzip.compress(lines.encode()))
    four = plan_download(storage, "flickr.tsv.gz", parallelism=4)
    two = plan_download(storage, "flickr.tsv.gz", parallelism=2)
    assert [s.count for s in four] == [3, 3, 3, 1] and [s.count for s in two] == [5, 5]
    # A rerun with another cut must not find the first cut's done markers under the same shard ids.
    assert not {s.stats_rel for s in four} & {s.stats_rel for s in two}
