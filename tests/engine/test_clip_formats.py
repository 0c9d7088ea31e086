"""CLIP dataset formats (formats.md 4.1, stack-facts.md 'XTune formats'): Dassl's Caltech101 split rules, the
CLIP class names, COCO names and captions, Flickr names, the expected trees."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.formats import clip as fmt


def caltech_tree(root: Path, sizes: dict[str, int]) -> Path:
    images = root / "101_ObjectCategories"
    for cls, n in sizes.items():
        (images / cls).mkdir(parents=True)
        for i in range(1, n + 1):
            (images / cls / f"image_{i:04d}.jpg").write_bytes(b"x")
        (images / cls / ".DS_Store").write_bytes(b"hidden files are not images")
    return images


SIZES = {"accordion": 55, "airplanes": 800, "BACKGROUND_Google": 467, "Faces": 435, "Faces_easy": 435,
         "Leopards": 200, "Motorbikes": 798, "car_side": 123, "yin_yang": 5}


def test_split_follows_dassl_rules(tmp_path):
    split = fmt.caltech_split(caltech_tree(tmp_path, SIZES), seed=1)
    classes = sorted(set(SIZES) - {"BACKGROUND_Google", "Faces_easy"})
    names = {"airplanes": "airplane", "Faces": "face", "Leopards": "leopard", "Motorbikes": "motorbike"}
    for label, cls in enumerate(classes):
        n = SIZES[cls]
        per = {part: [i for i in split[part] if i[0].startswith(cls + "/")] for part in fmt.SPLITS}
        assert len(per["train"]) == round(0.5 * n) and len(per["val"]) == round(0.2 * n)  # Python rounding
        assert len(per["test"]) == n - round(0.5 * n) - round(0.2 * n)
        for part in fmt.SPLITS:
            assert {(i[1], i[2]) for i in per[part]} == {(label, names.get(cls, cls))}
    assert round(0.5 * 55) == 28 and round(0.5 * 5) == 2  # banker's rounding is what Dassl gets
    assert all(not i[0].rsplit("/", 1)[1].startswith(".") for part in split.values() for i in part)


def test_split_is_reproducible_over_sorted_names_with_a_seed(tmp_path):
    images = caltech_tree(tmp_path, {"accordion": 10, "Faces": 8})
    first = fmt.caltech_split(images, seed=3)
    assert fmt.caltech_split(images, seed=3) == first
    assert fmt.caltech_split(images, seed=4) != first
    # What it is: one Random(seed) shuffling each class's sorted names, classes in label order.
    rng = random.Random(3)
    expected = []
    for cls, n in (("Faces", 8), ("accordion", 10)):
        names = [f"{cls}/image_{i:04d}.jpg" for i in range(1, n + 1)]
        rng.shuffle(names)
        expected += names[: round(n * 0.5)]
    assert [i[0] for i in first["train"]] == expected


def test_split_json_has_dassl_formatting(tmp_path):
    split = fmt.caltech_split(caltech_tree(tmp_path, {"accordion": 4}), seed=1)
    fmt.write_json(tmp_path / "split.json", split)
    text = (tmp_path / "split.json").read_text()
    assert text == json.dumps(split, indent=4, separators=(",", ": "))
    assert text.startswith('{\n    "train": [\n        [\n            "accordion/image_000')
    assert json.loads(text)["test"][0][1:] == [0, "accordion"]


def test_too_small_class_is_named(tmp_path):
    with pytest.raises(BadInputError, match="tiny has 3 images"):
        fmt.caltech_split(caltech_tree(tmp_path, {"accordion": 5, "tiny": 3}))


def test_classnames_come_from_clip_for_present_wnids():
    text = fmt.classnames_text(["n02091244", "n01532829", "n01532829"])
    assert text == "n01532829 house finch\nn02091244 Ibizan Hound\n"
    names = fmt.clip_imagenet_names()
    assert len(names) == 1000 and names["n01440764"] == "tench"
    assert names["n02012849"] == "crane bird" and names["n03126707"] == "construction crane"  # CLIP's renames
    with pytest.raises(BadInputError, match="n99999999"):
        fmt.classnames_text(["n99999999"])


def test_coco_train_names_pad_ids_to_12_digits():
    assert fmt.coco_train_image(9) == "train2014/COCO_train2014_000000000009.jpg"
    assert fmt.coco_train_image(1000001) == "train2014/COCO_train2014_000001000001.jpg"


def test_captions_train_is_the_official_annotations_list():
    official = {"images": [], "annotations": [{"image_id": 9, "id": 1, "caption": "A cat."},
                                              {"image_id": 9, "id": 2, "caption": "Two."}]}
    assert fmt.captions_train(official) == [{"image_id": 9, "caption": "A cat."}, {"image_id": 9, "caption": "Two."}]
    with pytest.raises(BadInputError, match="annotations"):
        fmt.captions_train({"images": []})
    with pytest.raises(BadInputError, match="image_id"):
        fmt.captions_train({"annotations": [{"caption": "no id"}]})


def test_flickr_doubled_json_names_are_normalised():
    assert fmt.flickr_json_name("flickr30k_train.json.json") == "flickr30k_train.json"
    assert fmt.flickr_json_name("flickr5k_val.json") == "flickr5k_val.json"


def test_tree_check_reports_what_is_missing(tmp_path):
    tree = fmt.LAYOUTS["mscoco2014"]
    (tmp_path / "mscoco2014" / "train2014").mkdir(parents=True)
    (tmp_path / "mscoco2014" / "train2014" / "COCO_train2014_000000000009.jpg").write_bytes(b"x")
    (tmp_path / "mscoco2014" / "captions_train.json").write_text("[")
    checked = fmt.check_tree(tmp_path, tree)
    assert checked["counts"] == {"train2014": 1, "val2014": 0}
    assert checked["missing"][0] == "mscoco2014/val2014/ (folder)"
    assert any(m.startswith("mscoco2014/captions_train.json (not valid JSON") for m in checked["missing"])
    assert "mscoco2014/coco_karpathy_test.json" in checked["missing"]
