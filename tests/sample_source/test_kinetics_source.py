"""The Kinetics sample catalogue: what it serves and that it is generated once."""
from __future__ import annotations

import csv
import io
import tarfile

import pytest
import requests

from include.sample_source import kinetics as sample
from include.sample_source.server import SampleSource
from include.visionflow.errors import DecodeError
from include.visionflow.video.probe import probe


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = SampleSource(tmp_path_factory.mktemp("ks"), s3_port=None).start(["kinetics"])
    yield src
    src.stop()


def test_tarball_has_the_three_csvs_with_upstream_quoting(source):
    data = requests.get(source.urls["kinetics_annotations_url"], timeout=10).content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        train = tar.extractfile("kinetics400/train.csv").read().decode()
    assert sorted(names) == ["kinetics400/test.csv", "kinetics400/train.csv", "kinetics400/train.json",
                             "kinetics400/validate.csv"]
    assert '"air drumming",bbbunny0001,0,2,train,0' in train.splitlines()
    rows = list(csv.DictReader(io.StringIO(train)))
    assert {r["label"] for r in rows} == {"air drumming", 'passing "ball"', "massaging person's head", "abseiling"}


def test_videos_are_served_and_missing_ones_are_404(source):
    template = source.urls["kinetics_url_template"]
    ok = requests.get(template.format(youtube_id="bikes000001"), timeout=10)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "video/mp4"
    assert requests.get(template.format(youtube_id=sample.MISSING_ID), timeout=10).status_code == 404
    assert requests.get(source.base_url + "/kinetics/../kinetics/videos/x", timeout=10).status_code == 404
    folder = requests.get(source.urls["kinetics_annotations_folder_url"] + "test.csv", timeout=10).text
    assert folder.splitlines()[0] == "youtube_id,time_start,time_end,split"


def test_variants(source):
    videos = source.data_dir / "kinetics" / "videos"
    assert probe(videos / "portrait001.mp4").display_size == (272, 640)
    rotated = probe(videos / "rotated0001.mp4")
    assert rotated.rotation == 90 and rotated.duration >= sample.VARIANT_SECONDS
    with pytest.raises(DecodeError):
        probe(videos / "corrupt0001.mp4")
    assert source.urls["kinetics_local_dir"] == str(videos)


def test_generation_is_idempotent(source):
    folder = source.data_dir / "kinetics"
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    sample.generate(folder)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before
