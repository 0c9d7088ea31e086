"""The video_frames DAG end to end with dag.test() on the sample source's nested video folder."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from include.visionflow.video.probe import probe

ROOT = Path(__file__).resolve().parents[2]


def conf(video_dir, frames_dir, **extra):
    """Every param spelled out: in one process, dag.test() can carry a previous run's conf over as params."""
    return {"video_dir": str(video_dir), "frames_dir": str(frames_dir), "fps": 10, "short_side": 256,
            "pattern": "%05d.jpg", "quality": 90, "filelist": "", **extra}


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "video_frames.py")).get_dag("video_frames")


def test_frames_and_list(airflow_db, dag, sample_source, tmp_path):
    videos = Path(sample_source.urls["video_frames_dir"])
    out = tmp_path / "frames"
    dr = dag.test(run_conf=conf(videos, out))
    assert dr.state == "success"
    lines = (out / "filelist.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["k400/abseiling/clip", "k400/air_drumming/clip",
                                                   "krishnacam/clip", "krishnacam/rotated"]
    sources = {"k400/abseiling/clip": "k400/abseiling/clip.mp4", "k400/air_drumming/clip": "k400/air drumming/clip.mp4",
               "krishnacam/clip": "krishnacam/clip.mp4", "krishnacam/rotated": "krishnacam/rotated.mp4"}
    for line in lines:
        folder, count = line.split()
        assert abs(int(count) - probe(videos / sources[folder]).duration * 10) <= 1
        assert sorted(p.name for p in (out / folder).iterdir())[0] == "00001.jpg"
    assert Image.open(out / "k400/air_drumming/clip/00001.jpg").size == (256, 602)  # portrait, short side 256
    assert Image.open(out / "k400/abseiling/clip/00001.jpg").size == (176, 144)  # small: never upscaled
    assert not (out / "broken" / "corrupt").exists()  # corrupt: reported in the manifest, run still green


def test_custom_pattern_and_list_path(airflow_db, dag, sample_source, tmp_path):
    videos = Path(sample_source.urls["video_frames_dir"]) / "k400"
    listing = tmp_path / "lists" / "k400.txt"
    dr = dag.test(run_conf=conf(videos, tmp_path / "f", fps=2, short_side=128, pattern="img_%04d.jpg",
                                filelist=str(listing)))
    assert dr.state == "success"
    assert listing.read_text() == "abseiling/clip 8\nair_drumming/clip 8\n"
    assert Image.open(tmp_path / "f/air_drumming/clip/img_0001.jpg").size == (128, 302)


def test_empty_folder_gives_an_empty_list(airflow_db, dag, tmp_path):
    (tmp_path / "videos").mkdir()
    dr = dag.test(run_conf=conf(tmp_path / "videos", tmp_path / "f"))
    assert dr.state == "success"
    assert (tmp_path / "f" / "filelist.txt").read_text() == ""
