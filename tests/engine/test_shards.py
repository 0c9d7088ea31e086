from __future__ import annotations

import logging

import pytest

from include.visionflow.errors import (
    BadInputError,
    BadRowError,
    ChecksumError,
    DecodeError,
    FetchError,
    RefusedURL,
)
from include.visionflow.manifest import ItemResult, Status, merge_stats, read_manifest, read_stats
from include.visionflow.progress import Progress
from include.visionflow.shards import (
    MAX_SHARDS,
    ShardSpec,
    balanced_rows,
    iter_csv,
    process_shard,
    read_shard,
    rows_per_shard,
    url_host,
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


def test_balanced_rows_even_out_name_sorted_heavy_rows(tmp_path):
    # A name-sorted folder: the 8 big videos first, then 16 small ones (cut in order: 8 big + 4 small | 12 small).
    rows = [{"key": f"big{i}", "w": 100} for i in range(8)] + [{"key": f"small{i:02d}", "w": 10} for i in range(16)]
    ordered = balanced_rows(rows, 12, lambda r: r["w"])
    assert sorted(r["key"] for r in ordered) == sorted(r["key"] for r in rows)
    shards = [ordered[:12], ordered[12:]]
    assert [sum(r["w"] for r in s) for s in shards] == [480, 480]
    assert all([r["key"] for r in s] == sorted(r["key"] for r in s) for s in shards)  # input order kept
    specs = write_shards(open_storage(str(tmp_path)), "_work/b", ordered, 12, ["key"])
    assert [s.count for s in specs] == [12, 12]


def test_balanced_rows_fill_shards_as_write_shards_cuts_them():
    rows = [{"key": str(i), "w": w} for i, w in enumerate((50, 1, 1, 1, 1, 1, 1))]
    ordered = balanced_rows(rows, 3, lambda r: r["w"])
    chunks = [ordered[:3], ordered[3:6], ordered[6:]]
    assert [sum(r["w"] for r in c) for c in chunks] == [52, 3, 1]  # the heavy row shares with the fewest
    assert [r["key"] for r in chunks[0]][0] == "0"
    assert balanced_rows(rows[:2], 3, lambda r: r["w"]) == rows[:2]
    assert balanced_rows([], 3, lambda r: 0) == []


def _six(tmp_path):
    storage = open_storage(str(tmp_path))
    return storage, write_shards(storage, "_work/r", ({"key": str(i)} for i in range(6)), 10, ["key"])[0]


def test_item_errors_become_rows_with_the_status_of_their_type(tmp_path):
    storage, spec = _six(tmp_path)
    kinds = {"1": FetchError("http_404", "gone"), "2": DecodeError("not_an_image"),
             "3": ChecksumError("md5_mismatch"), "4": BadRowError("unsafe_image_id", "../x"),
             "5": RefusedURL("ftp not allowed")}

    def work(row):
        if row["key"] in kinds:
            raise kinds[row["key"]]
        return ItemResult(row["key"], Status.OK, output=f"out/{row['key']}", frames=7)

    stats = process_shard(storage, spec, work, threads=3)
    rows = read_manifest(storage, spec.manifest_rel)
    assert [r.key for r in rows] == [str(i) for i in range(6)]
    assert [r.status for r in rows] == [Status.OK, Status.FAILED_DOWNLOAD, Status.FAILED_DECODE,
                                        Status.FAILED_CHECKSUM, Status.BAD_ROW, Status.REFUSED]
    assert rows[0].frames == 7 and rows[1].frames is None  # typed columns survive the Parquet round trip
    assert stats.reasons == {"http_404": 1, "not_an_image": 1, "md5_mismatch": 1, "unsafe_image_id": 1,
                             "refused_address": 1}
    assert read_stats(storage, spec.stats_rel) == stats
    assert merge_stats([stats, stats])["counts"]["ok"] == 2


def test_other_errors_fail_the_shard_and_a_retry_reuses_finished_items(tmp_path):
    storage, spec = _six(tmp_path)
    calls: list[str] = []
    broken = {"on": True}

    def work(row):
        out = f"out/{row['key']}"
        if storage.exists(out):
            return ItemResult(row["key"], Status.OK, output=out, reused=True)
        if row["key"] == "4" and broken["on"]:
            raise OSError(28, "No space left on device")  # storage trouble: not the item's fault
        calls.append(row["key"])
        storage.write_text(out, row["key"])
        return ItemResult(row["key"], Status.OK, output=out)

    with pytest.raises(OSError, match="No space left"):
        process_shard(storage, spec, work, threads=1)
    assert not storage.exists(spec.stats_rel) and not storage.exists(spec.manifest_rel)
    assert calls == ["0", "1", "2", "3"]
    broken["on"] = False
    stats = process_shard(storage, spec, work, threads=2)
    assert stats.ok == 6 and stats.reused == 4 and sorted(calls) == ["0", "1", "2", "3", "4", "5"]
    # done: a third run touches nothing, not even the rows
    assert process_shard(storage, spec, lambda row: pytest.fail("ran a done shard")) == stats


def test_stages_keep_their_own_manifests(tmp_path):
    storage, spec = _six(tmp_path)
    process_shard(storage, spec, lambda r: ItemResult(r["key"], Status.OK), stage="clips")
    assert storage.exists("_work/r/clips/manifests/shard-00000.stats.json")
    assert not storage.exists(spec.stats_rel)
    assert spec.for_stage("clips").manifest_rel == "_work/r/clips/manifests/shard-00000.manifest.parquet"


def test_progress_lines_say_done_total_rate_eta_and_failures(tmp_path, caplog):
    storage, spec = _six(tmp_path)

    def work(row):
        if row["key"] in ("2", "3"):
            raise FetchError("timeout", "deadline")
        return ItemResult(row["key"], Status.OK)

    caplog.set_level(logging.INFO)
    # an interval of 0 s: every item is past it, as items are in a shard that runs for minutes
    process_shard(storage, spec, work, progress_every=0.0, log_name="demo")
    lines = [r.getMessage() for r in caplog.records if r.name == "visionflow.progress"]
    assert len(lines) >= 6
    assert lines[2].startswith("shard 0 (demo): 3/6 items (50%)") and "items/s" in lines[2] and "ETA" in lines[2]
    assert lines[-1].startswith("shard 0 (demo): 6/6 items (100%)") and "failed 2 (timeout 2)" in lines[-1]
    done = [r.getMessage() for r in caplog.records if r.name == "include.visionflow.shards"][-1]
    assert "manifests/shard-00000.manifest.parquet" in done and "6 items" in done
    caplog.clear()
    process_shard(storage, spec, work, stage="clips", log_name="demo")  # a task running several stages
    assert all(r.getMessage().startswith("shard 0 (demo) clips: ") for r in caplog.records
               if r.name in ("visionflow.progress", "include.visionflow.shards"))


def test_progress_names_a_url_by_its_host_only():
    row = {"id": "7", "page": "not a url", "url": "https://user:secret@img.example:8443/a.jpg?api_key=k"}
    assert url_host(row) == "img.example:8443" and url_host(row, "url") == "img.example:8443"
    assert url_host(row, "page") == "" and url_host({"url": "http://h:port/x"}) == ""


def test_progress_without_a_total_counts_rows():
    ticks = iter([0.0, 0.0, 30.0, 30.0])
    progress = Progress("plan", None, every=20.0, unit="rows", clock=lambda: next(ticks))
    progress.add(count=1000)
    assert progress.line().startswith("plan: 1000 rows, 33.3 rows/s") and "failed 0" in progress.line()


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
