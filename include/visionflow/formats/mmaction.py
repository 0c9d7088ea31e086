"""mmaction2 file lists and names (formats.md 5.5; ``tools/data/build_file_list.py``).

* clip key: ``<label_dir>/<ytid>_<%06d int(float(start))>_<%06d int(float(end))>``;
* videos list line: ``<class>/<file>.mp4 <label>``;
* rawframes list line: ``<class>/<stem> <number of img_ files> <label>`` (frames ``img_%05d.jpg`` from 1);
* labels: the sorted class folder names of the *train* annotations, numbered 0..K-1; unlabelled (test) -1.

Lines are shuffled with a recorded seed (upstream's default shuffle is unseeded, so lists cannot be rebuilt).
"""
from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from typing import Iterable

from include.visionflow.errors import BadInputError
from include.visionflow.paths import label_dir, safe_component

RAWFRAME_PATTERN = "img_%05d.jpg"
RAWFRAME_QUALITY = 95  # mmcv.imwrite's OpenCV default
UNLABELLED = -1
TEST_CLASS = "test"  # download.py puts rows without a label in test/


@dataclass(frozen=True)
class ListEntry:
    """One list line: a relative path, a frame count (rawframes only) and the label id."""

    path: str
    label: int
    frames: int | None = None

    def line(self) -> str:
        if self.frames is None:
            return f"{self.path} {self.label}"
        return f"{self.path} {self.frames} {self.label}"


def seconds_field(value: str | float) -> int:
    """``int(float(x))`` as mmaction does for names: ``"40.0"`` → 40. Raises BadInputError on junk."""
    try:
        seconds = float(value)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"time {value!r} is not a number") from err
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise BadInputError(f"time {value!r} is not finite")
    return int(seconds)


def clip_stem(youtube_id: str, start: str | float, end: str | float) -> str:
    """``<ytid>_<%06d start>_<%06d end>``, the name of a trimmed clip without extension."""
    return safe_component(f"{youtube_id}_{seconds_field(start):06d}_{seconds_field(end):06d}", what="clip id")


def class_dir(label: str | None) -> str:
    """The folder of a class (``test`` for unlabelled rows)."""
    return label_dir(label) if label and str(label).strip() else TEST_CLASS


def clip_key(label: str | None, youtube_id: str, start: str | float, end: str | float) -> str:
    """``<class>/<clip stem>``: the key shared by the clip, its dense copy and its raw-frame folder."""
    return f"{class_dir(label)}/{clip_stem(youtube_id, start, end)}"


def label_name(label: str) -> str:
    """A class as mmaction2's ``label_map_k400.txt`` writes it: the annotation's name, spaces kept, quotes
    dropped (``air drumming``)."""
    return str(label).replace('"', "").strip()


def label_map_name(dataset: str) -> str:
    """``kinetics400`` -> ``label_map_k400.txt``, the name of mmaction2's own label map for that dataset."""
    return f"label_map_k{dataset.removeprefix('kinetics')}.txt"


def label_first_csv(data: bytes) -> bytes:
    """An annotation CSV with ``label`` as its first column, as mmaction2's ``parse_kinetics_splits`` reads every
    split (``x[0]`` label, ``x[1]`` youtube id, ``x[2]``/``x[3]`` times); Kinetics' ``test.csv`` has no label
    column, so it gets an empty one. A CSV that already starts with ``label`` comes back unchanged."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:1] == ["label"]:
        return data
    header = rows[0]
    at = header.index("label") if "label" in header else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        label = (row[at] if at is not None and at < len(row) else "") if row is not header else "label"
        rest = [v for i, v in enumerate(row) if i != at]
        writer.writerow([label, *rest])
    return out.getvalue().encode("utf-8")


def label_index(train_labels: Iterable[str]) -> dict[str, int]:
    """Class folder → label id: sorted unique folder names of the train annotations, from 0."""
    names = sorted({label_dir(label) for label in train_labels if label and str(label).strip()})
    return {name: i for i, name in enumerate(names)}


def label_of(key: str, labels: dict[str, int]) -> int | None:
    """The label id of a clip key; None when its class is not in the train classes (dropped, like upstream)."""
    folder = key.split("/", 1)[0]
    if folder == TEST_CLASS and TEST_CLASS not in labels:
        return UNLABELLED
    return labels.get(folder)


def render_list(entries: Iterable[ListEntry], seed: int | None) -> str:
    """The list file text: one line per entry, shuffled with ``seed`` (``None`` keeps the given order)."""
    lines = [entry.line() for entry in entries]
    if seed is not None:
        random.Random(seed).shuffle(lines)
    return "".join(f"{line}\n" for line in lines)


def parse_list(text: str, rawframes: bool) -> list[ListEntry]:
    """Read a videos or rawframes list back (tests, resume); multi-label extras are not produced here."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        want = 3 if rawframes else 2
        if len(fields) != want:
            raise BadInputError(f"list line {number} {line!r}: expected {want} fields")
        if rawframes:
            entries.append(ListEntry(fields[0], int(fields[2]), int(fields[1])))
        else:
            entries.append(ListEntry(fields[0], int(fields[1])))
    return entries


def list_name(dataset: str, split: str, kind: str) -> str:
    """``<dataset>_<split>_list_<videos|rawframes>.txt``."""
    if kind not in ("videos", "rawframes"):
        raise BadInputError(f"list kind must be videos or rawframes, not {kind!r}")
    return f"{dataset}_{split}_list_{kind}.txt"


# The pipeline of the card's configs: what mmaction2's own TSN Kinetics configs do, short (one clip of 3 frames).
_PIPELINES = {
    "videos": ["dict(type='DecordInit')", "dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3)",
               "dict(type='DecordDecode')"],
    "rawframes": ["dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3)",
                  "dict(type='RawFrameDecode')"],
}
_COMMON = ["dict(type='Resize', scale=(-1, 256))", "dict(type='CenterCrop', crop_size=224)",
           "dict(type='FormatShape', input_format='NCHW')", "dict(type='PackActionInputs')"]
_LOADERS = {"train": "train_dataloader", "val": "val_dataloader", "test": "test_dataloader"}


def mmaction_config(root: str, dataset: str, splits: list[str], kind: str) -> str:
    """The lines of an mmaction2 config that load this output root's ``kind`` (videos or rawframes) lists of
    ``splits``: the ``ann_file`` / ``data_prefix`` shape of mmaction2's Kinetics configs, with its dataset
    types (``VideoDataset``, ``RawframeDataset``), paths under ``root``."""
    dataset_type, prefix = ("VideoDataset", "video") if kind == "videos" else ("RawframeDataset", "img")
    lines = [f"# mmaction2 config: {dataset} {kind} (labels: label_map.txt, line n = label n)",
             f"dataset_type = '{dataset_type}'", f"data_root = '{root}'", "pipeline = ["]
    lines += [f"    {step}," for step in _PIPELINES[kind] + _COMMON] + ["]"]
    for split in splits:
        folder = f"videos_{split}" if kind == "videos" else f"rawframes_{split}"
        test_mode = ", test_mode=True" if split != "train" else ""
        lines.append(f"{_LOADERS[split]} = dict(batch_size=8, num_workers=4, dataset=dict(\n"
                     f"    type=dataset_type, ann_file=f'{{data_root}}/{list_name(dataset, split, kind)}',\n"
                     f"    data_prefix=dict({prefix}=f'{{data_root}}/{folder}'), pipeline=pipeline{test_mode}))")
    return "\n".join(lines)
