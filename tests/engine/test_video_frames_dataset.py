"""video_frames dataset: recursive discovery with relative folders, fixed-fps extraction, the file list."""
from __future__ import annotations

import shutil

import pytest
from PIL import Image

from include.sample_source.kinetics import generate
from include.visionflow.datasets import video_frames as vf
from include.visionflow.errors import BadInputError
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import read_shard
from include.visionflow.storage import open_storage
from include.visionflow.video.probe import probe


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    return generate(tmp_path_factory.getbasetemp() / "kinetics-media")["frames_src"]


def test_discovery_keeps_equal_names_apart(tree):
    assert vf.discover(tree) == [
        ("broken/corrupt.mp4", "broken/corrupt", ""),
        ("k400/abseiling/clip.mp4", "k400/abseiling/clip", ""),
        ("k400/air drumming/clip.mp4", "k400/air_drumming/clip", ""),
        ("krishnacam/clip.mp4", "krishnacam/clip", ""),
        ("krishnacam/rotated.mp4", "krishnacam/rotated", ""),
    ]


def test_discovery_disambiguates_clashing_names(tmp_path):
    for rel in ["a/x.mp4", "a/x.avi", "a.mp4", "a/b/c.mkv", "notes.txt", ".hidden.mp4"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert vf.discover(tmp_path) == [("a/b/c.mkv", "a/b/c", ""), ("a/x.avi", "a/x_avi", ""),
                                     ("a/x.mp4", "a/x_mp4", ""),
                                     ("a.mp4", "a_mp4", "")]  # a.mp4's frames would otherwise sit in a/
    with pytest.raises(BadInputError):
        vf.discover(tmp_path / "missing")


def test_a_file_name_that_cannot_be_a_folder_is_a_bad_row(tmp_path):
    videos, out = tmp_path / "videos", tmp_path / "out"
    (videos / "ok").mkdir(parents=True)
    (videos / "ok" / "bad\x01name.mp4").write_bytes(b"")
    storage = open_storage(str(out))
    specs = vf.plan(storage, "_work/run", videos)
    stats = vf.extract_shard(storage, specs[0], videos, vf.frame_options())
    row = read_manifest(storage, specs[0].manifest_rel)[0]
    assert stats.counts == {"bad_row": 1} and row.reason == "unsafe_video_path" and "name" in row.key
    assert sorted(p.name for p in out.iterdir() if p.name != ".tmp") == ["_work"]  # no frames folder made


def test_plan_balances_shards_by_file_size(tmp_path):
    # Name order would cut big_0..big_3 | small_0..small_3; each shard should get two of each instead.
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(4):
        (videos / f"big_{i}.mp4").write_bytes(b"x" * 9000)
        (videos / f"small_{i}.mp4").write_bytes(b"x" * 1000)
    storage = open_storage(str(tmp_path / "out"))
    specs = vf.plan(storage, "_work/run", videos, per_shard=4)
    shards = [[row["key"] for row in read_shard(storage, spec)] for spec in specs]
    assert shards == [["big_0", "big_2", "small_0", "small_2"], ["big_1", "big_3", "small_1", "small_3"]]


def test_frames_list_and_rerun(tree, tmp_path):
    storage = open_storage(str(tmp_path))
    specs = vf.plan(storage, "_work/run", tree, per_shard=2)
    options = vf.frame_options(fps=10, short_side=256)
    stats = [vf.extract_shard(storage, spec, tree, options) for spec in specs]
    assert sum(s.ok for s in stats) == 4 and sum(s.counts.get("failed_decode", 0) for s in stats) == 1
    where = vf.write_filelist(storage, specs)
    lines = (tmp_path / "filelist.txt").read_text().splitlines()
    assert where == str(tmp_path / "filelist.txt")
    assert [line.split()[0] for line in lines] == ["k400/abseiling/clip", "k400/air_drumming/clip",
                                                   "krishnacam/clip", "krishnacam/rotated"]
    for line in lines:
        folder, count = line.split()
        src = next(s for s, key, _ in vf.discover(tree) if key == folder)
        assert abs(int(count) - probe(tree / src).duration * 10) <= 1  # duration x fps within one frame
        names = sorted(p.name for p in (tmp_path / folder).iterdir())
        assert names == [f"{i:05d}.jpg" for i in range(1, int(count) + 1)]
    assert Image.open(tmp_path / "krishnacam/clip/00001.jpg").size == (602, 256)
    assert Image.open(tmp_path / "k400/air_drumming/clip/00001.jpg").size == (256, 602)  # portrait
    assert Image.open(tmp_path / "krishnacam/rotated/00001.jpg").size == (256, 602)  # display matrix
    assert Image.open(tmp_path / "k400/abseiling/clip/00001.jpg").size == (176, 144)  # never upscaled
    failed = [r for s in specs for r in read_manifest(storage, s.manifest_rel) if r.status.value != "ok"]
    assert [(r.key, r.status.value) for r in failed] == [("broken/corrupt", "failed_decode")]
    assert [vf.extract_shard(storage, spec, tree, options) for spec in specs] == stats  # done shards: stored
    for spec in specs:
        storage.delete(spec.stats_rel)  # as if each task died before its stats: finished videos are reused
    again = [vf.extract_shard(storage, spec, tree, options) for spec in specs]
    assert sum(s.reused for s in again) == 4


def test_filelist_at_an_absolute_path_and_custom_pattern(tree, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(tree / "krishnacam", videos / "krishnacam")
    storage = open_storage(str(tmp_path / "frames"))
    specs = vf.plan(storage, "_work/r", videos)
    for spec in specs:
        vf.extract_shard(storage, spec, videos, vf.frame_options(fps=5, short_side=128, pattern="frame_%04d.jpg"))
    target = tmp_path / "lists" / "frames.txt"
    assert vf.write_filelist(storage, specs, str(target)) == str(target)
    assert target.read_text() == "krishnacam/clip 50\nkrishnacam/rotated 20\n"  # 4 s at 5 fps
    assert Image.open(tmp_path / "frames/krishnacam/clip/frame_0001.jpg").size == (302, 128)
