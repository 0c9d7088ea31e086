"""The CLIP catalogue serves what each layout of the XTune guide needs, from real photographs."""
from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest
import requests
from PIL import Image

from include.sample_source import clip as sample
from include.sample_source.server import SampleSource


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = SampleSource(tmp_path_factory.mktemp("clip-src"), s3_port=None).start(["clip"])
    yield src
    src.stop()


def get(url: str, **headers) -> requests.Response:
    resp = requests.get(url, headers=headers, timeout=10)
    resp.raise_for_status()
    return resp


def test_caltech_zip_holds_the_tarball_with_ignored_renamed_and_gray_classes(source):
    with zipfile.ZipFile(io.BytesIO(get(source.urls["clip_caltech101_url"]).content)) as zf:
        inner = zf.read("caltech-101/101_ObjectCategories.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(inner)) as tar:
        names = tar.getnames()
        gray = Image.open(tar.extractfile("101_ObjectCategories/car_side/image_0001.jpg"))
        color = Image.open(tar.extractfile("101_ObjectCategories/accordion/image_0001.jpg"))
    classes = {n.split("/")[1] for n in names}
    assert {"BACKGROUND_Google", "Faces_easy", "Faces", "airplanes", "Leopards", "car_side"} <= classes
    assert gray.mode == "L" and color.mode == "RGB" and color.size == sample.SIZE


def test_coco_names_pad_to_12_digits_and_karpathy_names_a_missing_image(source):
    with zipfile.ZipFile(io.BytesIO(get(source.urls["clip_coco_train_url"]).content)) as zf:
        assert "train2014/COCO_train2014_000001000001.jpg" in zf.namelist()
    test = get(source.urls["clip_coco_karpathy_url"] + "coco_karpathy_test.json").json()
    assert test[-1]["image"] == sample.COCO_MISSING and len(test[0]["caption"]) == 5


def test_flickr_json_carries_the_guides_doubled_names(source):
    base = source.urls["clip_flickr30k_json_url"]
    train = get(base + "flickr30k_train.json.json").json()
    assert train[0] == {"image": "flickr30k-images/1000092795.jpg", "caption": "photo 1000092795 caption 0",
                        "image_id": 0}
    assert requests.get(base + "flickr30k_train.json", timeout=10).status_code == 404


def test_ranges_and_checksums(source):
    url = source.urls["clip_mini_imagenet_url"]
    whole = get(url).content
    part = get(url, Range="bytes=100-")
    assert part.status_code == 206 and part.content == whole[100:]
    sums = get(source.urls["clip_checksums_url"]).json()
    assert sums["mini-imagenet.tar.gz"]["md5"] == hashlib.md5(whole).hexdigest()
    assert sums.keys() >= {"train2014.zip", "caltech-101.zip", "101_ObjectCategories.tar.gz"}
