"""Downloads (resume, checksum registry) and the CLIP fetch/annotate/check steps against the sample source's
CLIP catalogue over HTTP."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from include.sample_source.server import SampleSource
from include.visionflow import downloads
from include.visionflow.datasets import clip, clip_check
from include.visionflow.errors import BadInputError, BadRowError, DecodeError
from include.visionflow.storage import open_storage


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    src = SampleSource(tmp_path_factory.mktemp("clip-src"), s3_port=None).start(["clip"])
    yield src
    src.stop()


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_cut_download_is_resumed_with_a_range(source, tmp_path):
    url = source.urls["clip_base_url"] + "/flaky/mini_imagenet/mini-imagenet.tar.gz"
    original = source.data_dir / "clip" / "mini_imagenet" / "mini-imagenet.tar.gz"
    registry = {"mini-imagenet.tar.gz": {"md5": md5(original)}}
    path = downloads.download(url, tmp_path / "mini-imagenet.tar.gz", registry=registry)
    assert path.read_bytes() == original.read_bytes()
    assert source.hits["/clip/flaky/mini_imagenet/mini-imagenet.tar.gz"] == 2  # the cut answer, then the rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini-imagenet.tar.gz"]


def test_a_part_left_by_a_killed_task_is_resumed(source, tmp_path):
    original = source.data_dir / "clip" / "caltech101" / "caltech-101.zip"
    (tmp_path / "caltech-101.zip.part").write_bytes(original.read_bytes()[:1000])
    before = source.hits["/clip/caltech101/caltech-101.zip"]
    downloads.download(source.urls["clip_caltech101_url"], tmp_path / "caltech-101.zip",
                       registry={"caltech-101.zip": {"md5": md5(original)}})
    assert (tmp_path / "caltech-101.zip").read_bytes() == original.read_bytes()
    assert source.hits["/clip/caltech101/caltech-101.zip"] == before + 1


def test_a_server_ignoring_ranges_gets_a_fresh_download(source, tmp_path):
    original = source.data_dir / "clip" / "flickr5k" / "flickr5k.zip"
    (tmp_path / "flickr5k.zip.part").write_bytes(b"stale bytes of another file")
    downloads.download(source.urls["clip_base_url"] + "/norange/flickr5k/flickr5k.zip", tmp_path / "flickr5k.zip",
                       registry={"flickr5k.zip": {"sha256": hashlib.sha256(original.read_bytes()).hexdigest()}})
    assert (tmp_path / "flickr5k.zip").read_bytes() == original.read_bytes()


def test_checksum_mismatch_names_the_file_and_both_sums(source, tmp_path):
    original = source.data_dir / "clip" / "mscoco2014" / "train2014.zip"
    with pytest.raises(BadInputError) as err:
        downloads.obtain(source.urls["clip_coco_train_url"], tmp_path)  # the repo's registry: COCO's real md5
    assert f"train2014.zip: md5 is {md5(original)}" in str(err.value)
    assert "expects 0da8c0bd3d6becc4dcb32757491aca88" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # a wrong file is not kept to be resumed


def test_unknown_file_is_accepted_with_a_warning(source, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        path = downloads.obtain(source.urls["clip_flickr5k_url"], tmp_path)
    assert path == tmp_path / "flickr5k.zip"
    assert "flickr5k.zip is not in the checksum registry" in caplog.text


def test_local_paths_are_verified_in_place(source, tmp_path):
    local = source.data_dir / "clip" / "mini_imagenet" / "mini-imagenet.tar.gz"
    assert downloads.obtain(str(local), tmp_path / "unused") == local  # used where it is
    assert not (tmp_path / "unused").exists()
    real_name = source.data_dir / "clip" / "caltech101" / "101_ObjectCategories.tar.gz"
    with pytest.raises(BadInputError, match="expects b224c7392d521a49829488ab0f1120d9"):
        downloads.obtain(str(real_name), tmp_path)  # the real inner tarball's md5 (stack-facts.md)
    assert real_name.exists()  # the user's own file is never deleted
    with pytest.raises(BadInputError, match="not found"):  # a missing local file says so (inputs.py)
        downloads.obtain(str(tmp_path / "nope.zip"), tmp_path)
    with pytest.raises(BadInputError, match="only http"):
        downloads.obtain("ftp://example.com/a.zip", tmp_path)


def test_registry_holds_the_published_sums():
    registry = downloads.load_registry()
    assert registry["caltech-101.zip"]["md5"] == "3138e1922a9193bfa496528edbbc45d0"
    assert registry["val2014.zip"]["md5"] == "a3d79f5ed8d289b7a7554ce06a5782b3"
    assert registry["annotations_trainval2014.zip"]["md5"] == "0a379cfc70b0e71301e0f377548639bd"


@pytest.mark.parametrize("dataset, where", [("mini_imagenet", "yaoyaoliu.web.illinois.edu"),
                                            ("flickr30k", "kaggle.com/datasets/eeshawn/flickr30k"),
                                            ("flickr5k", "kaggle.com/datasets/wangjilong/self-data")])
def test_missing_kaggle_input_says_where_to_get_it(tmp_path, dataset, where):
    with pytest.raises(BadInputError, match=f"{dataset} needs archive_url.*{where}"):
        clip.fetch(dataset, tmp_path, clip.Sources())


def test_caltech_from_the_legacy_tarball_with_a_given_split(source, tmp_path):
    split = {"train": [["accordion/image_0001.jpg", 0, "accordion"]], "val": [], "test": []}
    (tmp_path / "split.json").write_text(json.dumps(split))
    sums = str(source.data_dir / "clip" / "checksums.json")
    clip.fetch("caltech101", tmp_path / "data", clip.Sources(
        archive_url=source.urls["clip_caltech101_tarball_url"], split_url=str(tmp_path / "split.json"),
        checksums_url=sums))
    assert clip.annotate("caltech101", tmp_path / "data")["made"] == []  # the given split is kept
    root = tmp_path / "data" / "caltech-101"
    assert json.loads((root / "split_zhou_Caltech101.json").read_text()) == split
    assert sorted(p.name for p in (root / "101_ObjectCategories").iterdir())[:3] == [
        "BACKGROUND_Google", "Faces", "Faces_easy"]


def test_mini_imagenet_from_images_and_split_csvs(source, tmp_path):
    clip.fetch("mini_imagenet", tmp_path, clip.Sources(archive_url=source.urls["clip_mini_imagenet_csv_url"]))
    clip.annotate("mini_imagenet", tmp_path)
    root = tmp_path / "mini-imagenet"
    assert sorted(p.name for p in (root / "val").iterdir()) == ["n01855672", "n02091244"]
    assert len(list((root / "train").glob("n*/*.jpg"))) == 9 and not (root / "images").exists()
    assert (root / "classnames.txt").read_text().splitlines()[0] == "n01532829 house finch"
    assert not (root / ".splits").exists()


def test_flickr_json_json_placed_by_hand_is_renamed(source, tmp_path):
    root = tmp_path / "flickr"
    root.mkdir()
    for split in ("train", "val", "test"):
        (root / f"flickr30k_{split}.json.json").write_text("[]")
    clip.fetch("flickr30k", tmp_path, clip.Sources(archive_url=source.urls["clip_flickr30k_url"],
                                                   annotations_url="https://unused.invalid/"))
    assert sorted(p.name for p in root.iterdir()) == [
        "flickr30k-images", "flickr30k_test.json", "flickr30k_train.json", "flickr30k_val.json"]
    assert len(list((root / "flickr30k-images").glob("*.jpg"))) == 6  # out of Kaggle's doubled folder


def test_coco_captions_train_from_a_given_file(source, tmp_path):
    rows = [{"image_id": 30, "caption": "given"}]
    (tmp_path / "captions_train.json").write_text(json.dumps(rows))
    root = tmp_path / "data" / "mscoco2014"
    root.mkdir(parents=True)
    for name in ("train2014", "val2014"):
        (root / name).mkdir()
    clip.fetch("mscoco2014", tmp_path / "data", clip.Sources(
        annotations_url=str(tmp_path / "captions_train.json"), karpathy_url=source.urls["clip_coco_karpathy_url"]))
    assert json.loads((root / "captions_train.json").read_text()) == rows
    assert json.loads((root / "coco_karpathy_val.json").read_text())[0]["image"].startswith("val2014/COCO_val2014_")


def test_image_check_rows(tmp_path):
    from PIL import Image

    Image.new("L", (8, 6)).save(tmp_path / "gray.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    ok = clip_check.check_image(tmp_path, {"key": "k", "split": "train", "path": "gray.jpg"})
    assert (ok.width, ok.height, ok.detail, ok.output) == (8, 6, "L", "gray.jpg")
    with pytest.raises(BadRowError, match="missing_image") as err:
        clip_check.check_image(tmp_path, {"key": "k", "split": "test", "path": "gone.jpg"})
    assert err.value.reason == "missing_image"
    with pytest.raises(BadRowError) as err:
        clip_check.check_image(tmp_path, {"key": "k", "split": "test", "path": "../../etc/passwd"})
    assert err.value.reason == "unsafe_image_path"
    with pytest.raises(DecodeError):
        clip_check.check_image(tmp_path, {"key": "k", "split": "test", "path": "broken.jpg"})


def test_bad_list_entries_become_bad_rows_not_a_failed_plan(tmp_path):
    root = tmp_path / "mscoco2014"
    root.mkdir()
    (root / "captions_train.json").write_text(json.dumps([{"image_id": "x"}, {"caption": "no id"}]))
    for split in ("val", "test"):
        (root / f"coco_karpathy_{split}.json").write_text(json.dumps([{"image": "../../x.jpg"}, "not a dict"]))
    storage = open_storage(str(tmp_path))
    specs = clip_check.plan(storage, "_work/t", "mscoco2014", tmp_path)
    stats = [clip_check.check_shard(storage, spec, "mscoco2014", tmp_path) for spec in specs]
    assert {spec.label: s.counts for spec, s in zip(specs, stats)} == {
        "train": {"bad_row": 1}, "val": {"bad_row": 2}, "test": {"bad_row": 2}}


def test_report_fails_on_an_incomplete_tree_after_writing_it(tmp_path):
    (tmp_path / "flickr5k" / "flickr5k-images").mkdir(parents=True)
    with pytest.raises(BadInputError, match="flickr5k_train.json"):
        clip_check.report(open_storage(str(tmp_path)), [], "flickr5k", tmp_path)
    report = json.loads((tmp_path / "flickr5k" / "layout_report.json").read_text())
    assert "flickr5k/flickr5k-images/*.jpg (has 0, needs 1)" in report["tree"]["missing"]


def test_dataset_info_merge_keeps_other_entries(tmp_path):
    (tmp_path / "dataset_info.json").write_text(json.dumps({"ActivityNet": {"file_name": "ActivityNet.json"}}))
    (tmp_path / "caltech101.json").write_text('[{"kept": true}]')
    clip_check.merge_dataset_info(tmp_path, "caltech101", {"file_name": "caltech101.json"})
    assert json.loads((tmp_path / "dataset_info.json").read_text()) == {
        "ActivityNet": {"file_name": "ActivityNet.json"}, "caltech101": {"file_name": "caltech101.json"}}
    assert (tmp_path / "caltech101.json").read_text() == '[{"kept": true}]'


def test_local_inputs_only_from_allowed_folders(tmp_path, monkeypatch):
    allowed = tmp_path / "inputs"
    allowed.mkdir()
    monkeypatch.setenv("VISIONFLOW_INPUT_DIRS", str(allowed))
    (tmp_path / "secret.zip").write_bytes(b"secret content")
    with pytest.raises(BadInputError) as err:
        clip.fetch("flickr5k", tmp_path / "data", clip.Sources(archive_url=str(tmp_path / "secret.zip")))
    assert "outside the allowed input folders" in str(err.value) and "secret content" not in str(err.value)
    with pytest.raises(BadInputError, match="outside the allowed input folders"):
        clip.fetch("caltech101", tmp_path / "data", clip.Sources(archive_url="https://x.invalid/a.tar.gz",
                                                                 checksums_url="/etc/passwd"))


def test_coco_lists_are_rebuilt_from_the_originals_when_an_image_returns(tmp_path):
    """A list rewritten without a missing image is the fetched file again, byte for byte, once the image is
    back: each run rebuilds the lists from ``originals/``."""
    from include.visionflow.datasets.clip_lists import write_loadable_coco_lists

    root = tmp_path / "mscoco2014"
    root.mkdir()
    fetched = json.dumps([{"image": "val2014/a.jpg", "caption": ["x"] * 5},
                          {"image": "val2014/b.jpg", "caption": ["y"] * 5}], indent=2)
    (root / "coco_karpathy_test.json").write_text(fetched)
    left = write_loadable_coco_lists(root, {("test", "val2014/b.jpg"): "missing_image"})
    assert left == {"coco_karpathy_test.json": {"missing_image": 1}}
    assert [e["image"] for e in json.loads((root / "coco_karpathy_test.json").read_text())] == ["val2014/a.jpg"]
    assert (root / "originals" / "coco_karpathy_test.json").read_text() == fetched
    assert write_loadable_coco_lists(root, {}) == {"coco_karpathy_test.json": {}}
    assert (root / "coco_karpathy_test.json").read_text() == fetched
