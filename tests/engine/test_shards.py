from __future__ import annotations

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.manifest import ItemResult, Status, merge_stats, read_manifest, read_stats
from include.visionflow.shards import (
    MAX_SHARDS,
    ShardSpec,
    finish_shard,
    iter_csv,
    read_shard,
    rows_per_shard,
    run_items,
    write_shards,
)
from include.visionflow.storage import open_storage


def test_shard_size_keeps_the_map_small():
    assert rows_per_shard(0) == 1000
    assert rows_per_shard(5000) == 1000
    assert rows_per_shard(9_178_275) * MAX_SHARDS >= 9_178_275
    assert rows_per_shard(9_178_275) <= 20000


def test_write_and_read_shards(tmp_path):
    storage = open_storage(str(tmp_path))
    rows = ({"id": str(i), "url": f"http://x/{i}"} for i in range(25))
    specs = write_shards(storage, "_work/r", rows, 10, ["id", "url"], label="train")
    assert [s.count for s in specs] == [10, 10, 5]
    assert read_shard(storage, specs[2])[0] == {"id": "20", "url": "http://x/20"}
    assert ShardSpec.from_xcom(specs[1].to_xcom()) == specs[1]
    assert specs[0].manifest_rel == "_work/r/manifests/shard-00000.manifest.parquet"


def test_every_item_gets_exactly_one_row_even_when_work_raises(tmp_path):
    storage = open_storage(str(tmp_path))
    spec = write_shards(storage, "_work/r", ({"id": str(i)} for i in range(6)), 10, ["id"])[0]

    def work(row):
        if row["id"] == "3":
            raise RuntimeError("bug in a transform")
        return ItemResult(row["id"], Status.OK if int(row["id"]) % 2 == 0 else Status.FAILED_DOWNLOAD, "http_404")

    results = run_items(read_shard(storage, spec), work, lambda r: r["id"], threads=3)
    stats = finish_shard(storage, spec, results, 0.0)
    rows = read_manifest(storage, spec.manifest_rel)
    assert [r.key for r in rows] == [str(i) for i in range(6)]
    assert stats.counts == {"ok": 3, "failed_download": 2, "failed_decode": 1}
    assert stats.reasons == {"http_404": 2, "unexpected_error": 1}
    assert read_stats(storage, spec.stats_rel) == stats
    assert merge_stats([stats, stats])["counts"]["ok"] == 6


def test_csv_missing_column_names_file_and_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(BadInputError, match=r"m.csv: missing column\(s\) \['url'\]"):
        list(iter_csv(path, required=["url"]))
    with pytest.raises(BadInputError, match="does not exist"):
        list(iter_csv(tmp_path / "absent.csv"))


def test_malloc_settings_apply_on_glibc_and_only_once():
    import platform

    from include.visionflow.memory import keep_freed_buffers

    expected = platform.libc_ver()[0] == "glibc"
    assert keep_freed_buffers() is expected
    assert keep_freed_buffers() is expected
