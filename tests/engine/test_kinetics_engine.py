"""Kinetics stages against the sample source over HTTP: annotations, plan, clips, dense cache, raw frames,
lists, report; failures are rows, reruns reuse finished clips."""
from __future__ import annotations

import json
import re
from pathlib import Path

import av
import pytest
from PIL import Image

from include.sample_source import kinetics as sample
from include.sample_source.server import SampleSource
from include.visionflow.datasets import kinetics as k
from include.visionflow.datasets import kinetics_lists as kl
from include.visionflow.errors import BadInputError, FetchError
from include.visionflow.formats.mmaction import parse_list
from include.visionflow.manifest import read_manifest
from include.visionflow.storage import open_storage
from include.visionflow.video.probe import probe
from include.visionflow.video.sources import VideoSource, ytdlp_available


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = SampleSource(tmp_path_factory.mktemp("kinetics-src"), s3_port=None).start(["kinetics"])
    yield src
    src.stop()


@pytest.fixture(scope="module")
def built(source, tmp_path_factory):
    """One full run over train+val (all sample rows), shards of 4 rows."""
    storage = open_storage(str(tmp_path_factory.mktemp("k400")))
    k.fetch_annotations(storage, source.urls["kinetics_annotations_url"], ["train", "val"])
    specs = k.plan(storage, "_work/run", ["train", "val"], per_shard=4)
    config = k.KineticsConfig(source=VideoSource("url_template", url_template=source.urls["kinetics_url_template"]))
    for spec in specs:
        k.clips_shard(storage, spec, config)
        k.dense_shard(storage, spec, config)
        k.rawframes_shard(storage, spec, config)
    kl.write_lists(storage, specs, "kinetics400", seed=0)
    kl.report(storage, specs, "kinetics400", seed=0)
    return storage, specs, config


def root(storage) -> Path:
    return Path(storage.root)


def test_annotations_from_tarball_are_renamed_like_upstream(built):
    storage, _, _ = built
    assert sorted(p.name for p in (root(storage) / "annotations").iterdir()) == [
        "kinetics_test.csv", "kinetics_train.csv", "kinetics_val.csv", "original", "source.json"]
    # test.csv has no label column: rewritten label-first for mmaction2's tools, the download kept as it was
    assert [p.name for p in (root(storage) / "annotations" / "original").iterdir()] == ["test.csv"]
    text = storage.read_text("annotations/kinetics_train.csv")
    assert text.startswith("label,youtube_id,time_start,time_end,split,is_cc\n")
    assert '"passing ""ball""",bikes000001,2,4,train,0' in text


@pytest.mark.parametrize("kind", ["folder_url", "local_folder", "local_tarball"])
def test_annotations_from_folder_or_local_paths(source, tmp_path, kind):
    url = {
        "folder_url": source.urls["kinetics_annotations_folder_url"],
        "local_folder": str(source.data_dir / "kinetics" / "annotations"),
        "local_tarball": str(source.data_dir / "kinetics" / "kinetics400.tar.gz"),
    }[kind]
    storage = open_storage(str(tmp_path))
    assert k.fetch_annotations(storage, url, ["val"]) == {"train": "annotations/kinetics_train.csv",
                                                          "val": "annotations/kinetics_val.csv"}
    assert storage.read_text("annotations/kinetics_val.csv").count("\n") == 1 + len(sample.VAL)


def test_annotations_without_train_csv_are_a_clear_error(source, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="train.csv"):
        k.fetch_annotations(open_storage(str(tmp_path / "out")), str(empty), ["train"])
    with pytest.raises(BadInputError, match="annotations"):
        k.fetch_annotations(open_storage(str(tmp_path / "out")), source.base_url + "/kinetics/nope.tar.gz", ["val"])


def test_plan_limit_and_row_checks(built, tmp_path):
    storage, _, _ = built
    specs = k.plan(storage, "_work/limited", ["train", "val"], limit=2, per_shard=1)
    assert [(s.label, s.count) for s in specs] == [("train", 1)] * 2 + [("val", 1)] * 2
    assert k.plan_row({"label": "x", "youtube_id": "a", "time_start": "7", "time_end": "5"}, "train")["error"]
    assert k.plan_row({"label": "..", "youtube_id": "a", "time_start": "1", "time_end": "5"}, "train")[
        "error"].startswith("bad_name")
    with pytest.raises(BadInputError):
        k.check_splits(["train", "holdout"])


def test_every_row_has_one_expected_status_per_stage(built):
    storage, specs, _ = built
    for stage in ("clips", "dense", "rawframes"):
        got = {split: {r.key: r.status.value for r in rows} for split, rows in
               kl.stage_rows(storage, specs, stage).items()}
        assert got == sample.EXPECTED, stage
    report = json.loads(storage.read_text("download_report.json"))
    reasons = {f["clip_id"]: f["reason"] for f in report["failures"]}
    assert reasons == {
        "abseiling/missing0001_000000_000010": "http_404",
        "abseiling/bikes000001_000007_000005": "bad_time_range",
        "passing_ball/corrupt0001_000000_000002": "unreadable_video",
    }


def test_clips_are_trimmed_h264_in_class_folders(built):
    storage, _, _ = built
    clip = root(storage) / "videos_train" / "passing_ball" / "bikes000001_000002_000004.mp4"
    info = probe(clip)
    assert info.codec == "h264" and info.frames == 50 and (info.width, info.height) == (640, 272)
    portrait = probe(root(storage) / "videos_train" / "massaging_person's_head" / "portrait001_000000_000002.mp4")
    assert portrait.display_size == (272, 640)


def test_dense_cache_has_short_side_256_and_gop_16(built):
    storage, _, _ = built
    cache = root(storage) / "videos_train_256p_dense_cache"
    for rel, size in [("air_drumming/bbbunny0001_000000_000002.mp4", (456, 256)),
                      ("massaging_person's_head/portrait001_000000_000002.mp4", (256, 602)),
                      ("abseiling/rotated0001_000001_000003.mp4", (256, 602))]:
        info = probe(cache / rel)
        assert (info.width, info.height) == size and info.rotation == 0, rel
    with av.open(str(cache / "air_drumming/bbbunny0001_000000_000002.mp4")) as c:
        keys = [p.is_keyframe for p in c.demux(video=0) if p.size]
    assert sum(keys) >= len(keys) // 16


def test_rawframes_every_frame_short_side_256(built):
    storage, _, _ = built
    folder = root(storage) / "rawframes_train" / "air_drumming" / "carphone001_000001_000003"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"img_{i:05d}.jpg" for i in range(1, 61)]  # 2 s at 29.97 fps, every frame
    assert Image.open(folder / names[0]).size == (312, 256)  # 176x144 upscaled, long side int()


def test_file_lists(built):
    storage, _, _ = built
    labels = {"abseiling": 0, "air_drumming": 1, "massaging_person's_head": 2, "passing_ball": 3}
    assert storage.read_text("label_map.txt").split() == list(labels)
    videos = parse_list(storage.read_text("kinetics400_train_list_videos.txt"), rawframes=False)
    assert len(videos) == 5
    for entry in videos:
        assert re.fullmatch(r"[^/ ]+/[\w-]{11}_\d{6}_\d{6}\.mp4", entry.path)
        assert entry.label == labels[entry.path.split("/")[0]]
        assert (root(storage) / "videos_train" / entry.path).is_file()
    frames = parse_list(storage.read_text("kinetics400_val_list_rawframes.txt"), rawframes=True)
    assert sorted((e.path, e.frames, e.label) for e in frames) == [
        ("abseiling/bikes000001_000005_000007", 50, 0), ("air_drumming/bbbunny0001_000003_000005", 50, 1)]


def test_lists_are_a_seeded_shuffle(built):
    storage, specs, _ = built
    name = "kinetics400_train_list_videos.txt"
    first = storage.read_text(name)
    kl.write_lists(storage, specs, "kinetics400", seed=0)
    assert storage.read_text(name) == first
    kl.write_lists(storage, specs, "kinetics400", seed=1)
    assert sorted(storage.read_text(name).splitlines()) == sorted(first.splitlines())
    kl.write_lists(storage, specs, "kinetics400", seed=0)


def test_rerun_skips_finished_clips(built):
    storage, specs, config = built
    clip = root(storage) / "videos_val" / "abseiling" / "bikes000001_000005_000007.mp4"
    before = clip.stat().st_mtime_ns
    for spec in specs:
        done = k.rawframes_shard(storage, spec, config)
        assert k.rawframes_shard(storage, spec, config) == done  # a finished shard is not run again
        # a shard whose task died before its stats were written: every finished item is reused
        for stage in ("clips", "rawframes"):
            root(storage).joinpath(k.stage_spec(spec, stage).stats_rel).unlink()
        k.clips_shard(storage, spec, config)
        stats = k.rawframes_shard(storage, spec, config)
        assert stats.reused == stats.ok
    rows = read_manifest(storage, k.stage_spec(specs[-1], "clips").manifest_rel)
    assert [r.reused for r in rows if r.status.value == "ok"] == [True, True]
    assert clip.stat().st_mtime_ns == before


def test_local_dir_source(source, built, tmp_path):
    storage, specs, _ = built
    out = open_storage(str(tmp_path))
    config = k.KineticsConfig(source=VideoSource("local_dir", local_dir=source.urls["kinetics_local_dir"]))
    row = k.plan_row({"label": "tai chi", "youtube_id": "portrait001", "time_start": "1", "time_end": "2"}, "val")
    result = k.clip_item(row, out, config)
    assert result.status.value == "ok" and result.width == 272 and result.height == 640
    assert (tmp_path / "videos_val/tai_chi/portrait001_000001_000002.mp4").is_file()
    with pytest.raises(FetchError) as missing:
        k.clip_item({**row, "youtube_id": "missing0001", "key": "tai_chi/m"}, out, config)
    assert (missing.value.status.value, missing.value.reason) == ("failed_download", "missing_local_video")


def test_youtube_source_needs_yt_dlp_and_failures_are_rows(tmp_path):
    if not ytdlp_available():  # the usual case here: a setup error for the run, named with its fix
        with pytest.raises(BadInputError, match="yt-dlp"):
            VideoSource("youtube")
        return
    config = k.KineticsConfig(source=VideoSource("youtube"))  # installed, but no route to YouTube
    row = k.plan_row({"label": "x", "youtube_id": "aaaaaaaaaaa", "time_start": "0", "time_end": "1"}, "val")
    with pytest.raises(FetchError) as failed:
        k.clip_item(row, open_storage(str(tmp_path)), config)
    assert (failed.value.status.value, failed.value.reason) == ("failed_download", "youtube_unavailable")


def test_source_settings_are_checked(tmp_path):
    with pytest.raises(BadInputError):
        VideoSource("url_template", url_template="http://host/video.mp4")
    with pytest.raises(BadInputError):
        VideoSource("local_dir", local_dir=str(tmp_path / "nope"))
    with pytest.raises(BadInputError):
        VideoSource("torrent")
    with pytest.raises(BadInputError):
        k.KineticsConfig(dataset="kinetics999")
    assert VideoSource("url_template", url_template="http://h/{youtube_id}.mp4").url_for("a/b") == "http://h/a%2Fb.mp4"
