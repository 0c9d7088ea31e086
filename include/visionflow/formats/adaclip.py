"""AdaCLIP's video-retrieval annotations (formats.md 4.2; SamsungLabs/AdaCLIP ``annot_preprocess/``).

Each split file ``annots/<dataset>/<split>.json`` is a dict keyed by video id (the frame folder's name):

* MSRVTT (CLIP4Clip ``MSRVTT_data.json`` + ``MSRVTT_train.9k.csv`` / ``MSRVTT_JSFUSION_test.csv``):
  ``{"video7020": {"extension": "mp4", "timestamps": [[221.77, 233.08]], "sentences": [...]}}``; train has
  every caption, val the one JSFusion sentence.
* DiDeMo (LocalizingMoments ``<split>_data.json`` filtered by Collaborative Experts' ``<split>_list.txt``):
  ``{"<flickr id>.avi": {"extension": "mp4", "sentences": [...]}}``, a "." appended when missing; the key keeps
  its original ``.avi``/``.mov`` and the file is ``<key>.<extension>``.
* ActivityNet Captions (``train.json``, ``val_1.json`` written as ``val.json``):
  ``{"v_uqiMw7tQ1Cc": {"extension": "mp4", "sentences": [...], "timestamps": [...], "duration": 55.15}}``.

``extension`` is the first of mp4 / mkv / webm / avi that exists, as upstream's ``is_exist``. Departure from
upstream, on purpose: a video that does not exist is left out and reported (upstream's MSRVTT script writes
it with ``"extension": ""``, which the loader then fails on).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from include.visionflow.errors import BadInputError

DATASETS = ("msrvtt", "didemo", "activitynet")
EXTENSIONS = ("mp4", "mkv", "webm", "avi")  # upstream's is_exist order
FRAME_PATTERN = "image_%05d.jpg"  # utils/frame_extraction.py --prefix; the loader reads image_{:05d}.jpg from 1
SPLITS = {"msrvtt": ("train", "val"), "didemo": ("train", "val", "test"), "activitynet": ("train", "val")}
# The raw annotation files each dataset needs (ActivityNet's val is val_1.json).
SOURCE_FILES = {
    "msrvtt": ("MSRVTT_data.json", "MSRVTT_train.9k.csv", "MSRVTT_JSFUSION_test.csv"),
    "didemo": ("train_data.json", "val_data.json", "test_data.json"),
    "activitynet": ("train.json", "val_1.json"),
}
DIDEMO_LISTS = ("train_list.txt", "val_list.txt", "test_list.txt")


@dataclass
class SplitResult:
    """One split's annotation dict and the videos it names that are not on disk."""

    split: str
    videos: dict[str, dict] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def report(self, examples: int = 10) -> dict:
        return {"videos": len(self.videos), "missing": len(self.missing), "missing_examples": self.missing[:examples]}


def extension_of(key: str, available: dict[str, str]) -> str | None:
    """The first of :data:`EXTENSIONS` with a file ``<key>.<ext>``; ``available`` maps key -> extensions found
    (``"mp4,webm"``)."""
    found = available.get(key, "")
    exts = found.split(",") if found else []
    return next((e for e in EXTENSIONS if e in exts), None)


def _json(files: dict[str, bytes], name: str):
    try:
        return json.loads(files[name])
    except KeyError:
        raise BadInputError(f"annotation file {name} is missing from the annotations source") from None
    except ValueError as err:
        raise BadInputError(f"annotation file {name} is not JSON: {err}") from None


def _csv(files: dict[str, bytes], name: str, columns: tuple[str, ...]) -> list[dict]:
    if name not in files:
        raise BadInputError(f"annotation file {name} is missing from the annotations source")
    rows = list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))
    lacking = [c for c in columns if rows and c not in rows[0]]
    if lacking:
        raise BadInputError(f"{name} lacks column(s) {lacking}; found {list(rows[0])}")
    return rows


def msrvtt(files: dict[str, bytes], available: dict[str, str]) -> list[SplitResult]:
    """train (9k list, every caption) and val (JSFusion 1k, its one sentence), in the data file's order."""
    data = _json(files, "MSRVTT_data.json")
    train_ids = {r["video_id"] for r in _csv(files, "MSRVTT_train.9k.csv", ("video_id",))}
    jsfusion = _csv(files, "MSRVTT_JSFUSION_test.csv", ("video_id", "sentence"))
    val_sentence = {}
    for row in jsfusion:
        val_sentence.setdefault(row["video_id"], row["sentence"])
    train, val = SplitResult("train"), SplitResult("val")
    captions: dict[str, list[str]] = {}
    for sentence in data.get("sentences", []):
        captions.setdefault(sentence["video_id"], []).append(sentence["caption"])
    for video in data.get("videos", []):
        vid = video["video_id"]
        split = train if vid in train_ids else val if vid in val_sentence else None
        if split is None:
            continue
        ext = extension_of(vid, available)
        if ext is None:
            split.missing.append(vid)
            continue
        sentences = captions.get(vid, []) if split is train else [val_sentence[vid]]
        split.videos[vid] = {"extension": ext, "timestamps": [[video["start time"], video["end time"]]],
                             "sentences": sentences}
    return [train, val]


def didemo(files: dict[str, bytes], lists: dict[str, bytes], available: dict[str, str]) -> list[SplitResult]:
    """Each split: LocalizingMoments rows whose video is in the CE list, sentences grouped per video."""
    results = []
    for split in SPLITS["didemo"]:
        if f"{split}_list.txt" not in lists:
            raise BadInputError(f"DiDeMo split list {split}_list.txt is missing from the split lists source")
        allowed = set(lists[f"{split}_list.txt"].decode("utf-8").splitlines())
        result = SplitResult(split)
        for row in _json(files, f"{split}_data.json"):
            vid = row["video"]
            if vid not in allowed:
                continue
            ext = extension_of(vid, available)
            if ext is None:
                if vid not in result.missing:
                    result.missing.append(vid)
                continue
            text = row["description"] if row["description"].endswith(".") else row["description"] + "."
            result.videos.setdefault(vid, {"extension": ext, "sentences": []})["sentences"].append(text)
        results.append(result)
    return results


def activitynet(files: dict[str, bytes], available: dict[str, str]) -> list[SplitResult]:
    """train.json -> train, val_1.json -> val (as upstream), fields copied per video."""
    results = []
    for split, name in (("train", "train.json"), ("val", "val_1.json")):
        result = SplitResult(split)
        for vid, data in _json(files, name).items():
            ext = extension_of(vid, available)
            if ext is None:
                result.missing.append(vid)
                continue
            result.videos[vid] = {"extension": ext, "sentences": data["sentences"],
                                  "timestamps": data["timestamps"], "duration": data["duration"]}
        results.append(result)
    return results


def build(dataset: str, files: dict[str, bytes], available: dict[str, str],
          lists: dict[str, bytes] | None = None) -> list[SplitResult]:
    """The split dicts of ``dataset`` from its raw annotation files (name -> bytes)."""
    if dataset == "msrvtt":
        return msrvtt(files, available)
    if dataset == "didemo":
        return didemo(files, lists or {}, available)
    if dataset == "activitynet":
        return activitynet(files, available)
    raise BadInputError(f"dataset must be one of {DATASETS}, not {dataset!r}")


def dumps(videos: dict[str, dict]) -> str:
    """As upstream's ``json.dump`` (default separators, insertion order)."""
    return json.dumps(videos)
