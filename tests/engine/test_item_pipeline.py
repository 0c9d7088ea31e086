"""The item pipeline with real families against the sample source over HTTP: hostile ids are counted bad rows
that create nothing, and a storage failure fails the shard while a retry keeps every finished image."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from include.visionflow.datasets import kinetics as k
from include.visionflow.datasets import openimages as oi
from include.visionflow.fetch.http import Fetcher
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import read_shard, write_shards
from include.visionflow.storage import open_storage
from include.visionflow.video.sources import VideoSource


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


@pytest.fixture
def planned(sample_source, tmp_path):
    """openimages_v4's own plan over the sample catalogue: the train split, one shard."""
    storage = open_storage(str(tmp_path / "root"))
    fetcher = Fetcher()
    oi.fetch_metadata(storage, sample_source.urls["openimages_metadata_url"], oi.METADATA_REL, fetcher)
    oi.fetch_metadata(storage, sample_source.urls["openimages_boxable_url"], oi.BOXABLE_REL, fetcher)
    specs = oi.plan_shards(storage, "_work/test", ["train"], train_size=100)
    return storage, specs[0], tmp_path / "root"


def test_hostile_openimages_ids_are_bad_rows_and_create_nothing(planned, sample_source):
    storage, spec, root = planned
    good = next(r for r in read_shard(storage, spec) if r["ImageID"] == oi_id("chelsea"))
    hostile = ["../extended_targets/images/ab/0123456789abcdef", "xx/../../../summary", "..", "a\x00b",
               "/etc/passwd", ".hidden"]
    rows = [good] + [{**good, "ImageID": bad} for bad in hostile]
    shard = write_shards(storage, "_work/hostile", rows, 100, oi.SHARD_COLUMNS + ["split"], label="train")[0]
    before = files_under(root)
    hits = dict(sample_source.hits)
    stats = oi.download_shard(storage, shard, oi.DownloadConfig(thumbnail_size=64, threads=2))
    assert stats.counts == {"ok": 1, "bad_row": len(hostile)}
    assert {r.reason for r in read_manifest(storage, shard.manifest_rel) if r.status.value == "bad_row"} == {
        "unsafe_image_id"}
    new = files_under(root) - before
    assert {f for f in new if not f.startswith("_work/")} == {oi.image_rel("train", good["ImageID"])}
    assert not (root / "extended_targets").exists() and not (root.parent / "summary.jpg").exists()
    fetched = sum(n - hits.get(p, 0) for p, n in sample_source.hits.items() if "/openimages/images/" in p)
    assert fetched == 1  # refused before any request


def oi_id(name: str) -> str:
    from include.sample_source.openimages import image_id

    return image_id(name)


def test_hostile_kinetics_ids_are_bad_rows_and_create_nothing(sample_source, tmp_path):
    root = tmp_path / "k400"
    storage = open_storage(str(root))
    source = VideoSource("local_dir", local_dir=sample_source.urls["kinetics_local_dir"])
    raw = [("abseiling", "carphone001"), ("abseiling", "../../../escape"), ("abseiling", "a/../../b"),
           ("../../labels", "carphone001"), ("abseiling", "..")]
    rows = [k.plan_row({"label": label, "youtube_id": ytid, "time_start": "0", "time_end": "1"}, "val")
            for label, ytid in raw]
    spec = write_shards(storage, "_work/hostile/val", rows, 100, k.SHARD_COLUMNS, label="val")[0]
    stats = k.clips_shard(storage, spec, k.KineticsConfig(source=source, threads=1))
    assert stats.counts == {"ok": 1, "bad_row": 4}
    outside = [p for p in tmp_path.rglob("*") if not str(p).startswith(str(root))]
    assert outside == [] and not (tmp_path / "escape.video").exists()
    assert {p.name for p in root.iterdir()} <= {"videos_val", "_work", ".tmp"}
    assert files_under(root / "videos_val") == {"abseiling/carphone001_000000_000001.mp4"}


def test_a_storage_failure_fails_the_shard_and_the_retry_refetches_nothing(planned, sample_source):
    storage, spec, root = planned
    rows = read_shard(storage, spec)
    ok_ids = [r["ImageID"] for r in rows if serves_ok(r)]
    blocked = root / "train" / "images" / ok_ids[2][:2]
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_bytes(b"a file where a folder must go")  # the fault: an output path that is a file
    config = oi.DownloadConfig(thumbnail_size=64, threads=1)
    with pytest.raises(OSError):
        oi.download_shard(storage, spec, config)
    assert not storage.exists(spec.stats_rel)  # not done: the task fails and Airflow retries it
    done_before = files_under(root / "train" / "images") - {blocked.name}
    assert len(done_before) >= 2
    hits = dict(sample_source.hits)
    os.unlink(blocked)  # the fault is removed; Airflow's retry runs the shard again
    stats = oi.download_shard(storage, spec, config)
    assert stats.reused == len(done_before) and stats.total == spec.count
    refetched = [p for p in done_before if any(p.endswith(Path(u).name) and n > hits.get(u, 0)
                                               for u, n in sample_source.hits.items())]
    assert refetched == []
    assert set(done_before) < files_under(root / "train" / "images")


def serves_ok(row: dict) -> bool:
    """Rows the sample catalogue serves as valid images (some rows are deliberate failures)."""
    from include.sample_source.openimages import expected_statuses

    return expected_statuses().get(row["ImageID"]) == "ok"
