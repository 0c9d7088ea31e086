"""The clip_datasets DAG end to end with dag.test() against the sample source over HTTP, one run per
dataset, plus runs whose first step fails."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.report.report_html import image_titled, read_report, summary_of

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("archive_url", "val_archive_url", "split_url", "classnames_url", "annotations_url", "karpathy_url",
           "checksums_url")


def conf(dataset: str, data_root: Path, **extra) -> dict:
    """Every param spelled out: in one process, dag.test() can carry a previous run's conf over as params."""
    return {"dataset": dataset, "data_root": str(data_root), "seed": 1, **{k: "" for k in SOURCES}, **extra}


def sample_conf(urls: dict, dataset: str, data_root: Path) -> dict:
    extra = {
        "caltech101": {"archive_url": urls["clip_caltech101_url"], "checksums_url": urls["clip_checksums_url"]},
        "mini_imagenet": {"archive_url": urls["clip_mini_imagenet_url"]},
        "mscoco2014": {"archive_url": urls["clip_coco_train_url"], "val_archive_url": urls["clip_coco_val_url"],
                       "annotations_url": urls["clip_coco_annotations_url"],
                       "karpathy_url": urls["clip_coco_karpathy_url"], "checksums_url": urls["clip_checksums_url"]},
        "flickr30k": {"archive_url": urls["clip_flickr30k_url"], "annotations_url": urls["clip_flickr30k_json_url"]},
        "flickr5k": {"archive_url": urls["clip_flickr5k_url"], "annotations_url": urls["clip_flickr5k_json_url"]},
    }[dataset]
    return conf(dataset, data_root, **extra)


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "clip_datasets.py")).get_dag("clip_datasets")


def task_states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


EXPECTED = {  # dataset -> (folder, images per split, missing listed images)
    "caltech101": ("caltech-101", {"train": 10, "val": 5, "test": 8}, 0),
    "mini_imagenet": ("mini-imagenet", {"train": 9, "val": 6, "test": 6}, 0),
    "mscoco2014": ("mscoco2014", {"train": 4, "val": 2, "test": 3}, 1),
    "flickr30k": ("flickr", {"train": 4, "val": 1, "test": 1}, 0),
    "flickr5k": ("flickr5k", {"train": 3, "val": 1, "test": 1}, 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", list(EXPECTED))
def test_dataset_is_prepared_and_reported(airflow_db, dag, sample_source, tmp_path, dataset):
    dr = dag.test(run_conf=sample_conf(sample_source.urls, dataset, tmp_path))
    assert dr.state == "success", task_states(dr)
    folder, images, missing = EXPECTED[dataset]
    report = json.loads((tmp_path / folder / "layout_report.json").read_text())
    assert {s: c["images"] for s, c in report["splits"].items()} == images
    assert sum(c.get("missing_image", 0) for c in report["splits"].values()) == missing
    assert report["tree"]["missing"] == []
    check_run_report(tmp_path / f"report-clip_datasets-{dataset}.html", report)
    if dataset == "caltech101":
        assert json.loads((tmp_path / "dataset_info.json").read_text()) == {
            "caltech101": {"file_name": "caltech101.json"}}
        card = (tmp_path / "README.md").read_text()
        assert "| `caltech-101/split_zhou_Caltech101.json` |" in card
        # The card's Dassl config, followed as Dassl's Caltech101 reads it (Dassl is not on the registry):
        # DATASET.ROOT/caltech-101, split_zhou_Caltech101.json's [impath, label, classname] joined with
        # 101_ObjectCategories (read_split), every file present.
        import yaml

        from tests.consumers.snippets import code_blocks

        (config,) = code_blocks(card, "yaml")
        dataset_cfg = yaml.safe_load(config)["DATASET"]
        assert dataset_cfg["NAME"] == "Caltech101"
        folder_root = Path(dataset_cfg["ROOT"]) / "caltech-101"
        split = json.loads((folder_root / "split_zhou_Caltech101.json").read_text())
        for items in split.values():
            for impath, label, classname in items:
                assert (folder_root / "101_ObjectCategories" / impath).is_file() and isinstance(label, int), impath
        assert report["image_modes"]["L"] == 5  # the grayscale class
    if dataset not in ("caltech101", "mscoco2014"):
        return
    # A rerun finds everything in place: nothing is downloaded or extracted again.
    hits = sum(sample_source.hits.values())
    again = dag.test(run_conf=sample_conf(sample_source.urls, dataset, tmp_path))
    assert again.state == "success"
    assert sum(sample_source.hits.values()) == hits


def xtune_unloadable(root: Path) -> list[str]:
    """The paths XTune's ``ITC_Mscoco`` would build from the written lists (``read_train_data``:
    ``"train2014/COCO_train2014_000000" + str(image_id) + ".jpg"``; ``read_valtest_data``: ``ann["image"]``)
    that are not files: Dassl's ``Datum`` asserts each one, so any of them fails the whole dataset."""
    paths = ["train2014/COCO_train2014_000000" + str(a["image_id"]) + ".jpg"
             for a in json.loads((root / "captions_train.json").read_text())]
    for split in ("val", "test"):
        paths += [a["image"] for a in json.loads((root / f"coco_karpathy_{split}.json").read_text())]
    return [p for p in paths if not (root / p).is_file()]


@pytest.mark.slow
def test_coco_lists_name_only_files_xtunes_loader_finds(airflow_db, dag, sample_source, tmp_path):
    """Issue 27: coco_karpathy_test.json kept an entry whose image is missing, and captions_train.json ids that
    XTune's path recipe turns into names that do not exist; Dassl asserts every file, so nothing loaded."""
    fetched = sample_source.data_dir / "clip" / "mscoco2014" / "karpathy"
    root = tmp_path / "mscoco2014"
    for attempt in ("first run", "rerun"):
        dr = dag.test(run_conf=sample_conf(sample_source.urls, "mscoco2014", tmp_path))
        assert dr.state == "success", (attempt, task_states(dr))
        assert xtune_unloadable(root) == [], attempt
        report = json.loads((root / "layout_report.json").read_text())
        assert report["left_out"] == {"captions_train.json": {"id_over_6_digits": 2},  # id 1000001, 2 captions
                                      "coco_karpathy_val.json": {}, "coco_karpathy_test.json": {"missing_image": 1}}
        assert report["splits"]["test"]["missing_image"] == 1  # still checked from the list as fetched
        # The originals, untouched; a list with nothing left out is the fetched file itself.
        originals = root / "originals"
        kept = (originals / "coco_karpathy_test.json").read_bytes()
        assert kept == (fetched / "coco_karpathy_test.json").read_bytes()
        assert not (originals / "coco_karpathy_val.json").exists()
        assert (root / "coco_karpathy_val.json").read_bytes() == (fetched / "coco_karpathy_val.json").read_bytes()
        test = json.loads((fetched / "coco_karpathy_test.json").read_text())
        assert json.loads((root / "coco_karpathy_test.json").read_text()) == [
            e for e in test if e["image"] != "val2014/COCO_val2014_000000999999.jpg"]
        official = json.loads((originals / "captions_train.json").read_text())
        assert len(official) == 8 and {a["image_id"] for a in official} == {9, 25, 30, 1000001}
        train = json.loads((root / "captions_train.json").read_text())
        assert [(a["image_id"], a["caption"]) for a in train] == [
            (f"{a['image_id']:06d}", a["caption"]) for a in official if a["image_id"] < 10 ** 6]
    card = (tmp_path / "README.md").read_text()
    assert "mscoco2014/originals/" in card and "COCO_train2014_000000 + str(image_id)" in card
    assert summary_of(tmp_path / "report-clip_datasets-mscoco2014.html")[
        "left out of coco_karpathy_test.json"] == "1 missing_image"


def check_run_report(latest: Path, layout: dict):
    """The run report: images per split and class folder, sizes, a contact sheet of sampled images."""
    shown = summary_of(latest)
    for split, counts in layout["splits"].items():
        assert shown[f"{split} ok"] == str(counts["ok"])
    headings, images = read_report(latest)
    assert "Samples" in headings
    image_titled(images, "Images per split (ok)")
    image_titled(images, "Images per class folder")
    image_titled(images, "Output sizes")
    assert image_titled(images, next(h for h in headings if h.endswith("sampled images"))).width >= 128
    card = (latest.parent / "README.md").read_text()  # one card for the data root, listing the split files
    assert card.startswith("# CLIP fine-tuning image sets") and "## How to load it" in card


def test_missing_kaggle_input_fails_the_run(airflow_db, dag, tmp_path):
    dr = dag.test(run_conf=conf("mini_imagenet", tmp_path))  # the message: tests/engine/test_clip_fetch.py
    assert dr.state == "failed"
    states = task_states(dr)
    assert states["fetch"] == "failed" and states["report"] in ("upstream_failed", None)
    assert not (tmp_path / "mini-imagenet").exists()


def test_hostile_archive_fails_the_run_and_writes_nothing(airflow_db, dag, sample_source, tmp_path):
    data = tmp_path / "deep" / "er" / "data"
    dr = dag.test(run_conf=conf("caltech101", data, archive_url=sample_source.urls["clip_caltech101_hostile_url"]))
    assert dr.state == "failed" and task_states(dr)["fetch"] == "failed"
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (data / "caltech-101").exists() or not list((data / "caltech-101").iterdir())


def test_checksum_mismatch_fails_the_run(airflow_db, dag, sample_source, tmp_path):
    # The sample's train2014.zip carries the real name, so the repo's registry (COCO's published md5) refuses it.
    urls = sample_source.urls
    dr = dag.test(run_conf=conf("mscoco2014", tmp_path, archive_url=urls["clip_coco_train_url"]))
    assert dr.state == "failed"
    assert task_states(dr)["fetch"] == "failed"
    assert not (tmp_path / "mscoco2014" / "train2014").exists()
    assert not (tmp_path / "_downloads" / "mscoco2014" / "train2014.zip").exists()


def test_params_refuse_other_schemes_at_trigger_time(airflow_db, dag, tmp_path):
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    for bad in ({"archive_url": "ftp://host/a.zip"}, {"data_root": "s3://bucket/clip"}, {"dataset": "cifar10"}):
        params = copy.deepcopy(dag.params)
        with pytest.raises(ParamValidationError):
            params.update({**conf("caltech101", tmp_path), **bad})
            params.validate()
    params = copy.deepcopy(dag.params)
    params.update(conf("caltech101", tmp_path, archive_url="https://x/caltech-101.zip", split_url="/data/s.json"))
    params.validate()
