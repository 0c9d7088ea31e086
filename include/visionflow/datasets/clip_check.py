"""Every image a CLIP dataset's lists name, checked through the shard runner; the layout report.

:func:`plan` turns the lists (Caltech101's split JSON, the mini-ImageNet folders, COCO's captions and
Karpathy files, the Flickr split JSONs) into shard rows ``{key, split, path}``, one per distinct image per
split. :func:`check_image` is the item function: the path from the list must be safe, exist and open as an
image (header only: size and mode), else the row is ``bad_row``/``missing_image``, ``unsafe_image_path`` or
``failed_decode``. :func:`report` writes ``<root>/layout_report.json`` (counts per split, missing files with
examples, the expected tree checked) and, for Caltech101, the ``dataset_info.json`` entry LLaMA-Factory's
trainer reads (``caltech101.json``: ``[]``, as the guide has it); for COCO it first writes the lists XTune's
loader can read whole (:mod:`include.visionflow.datasets.clip_lists`) and counts what they leave out.
"""
from __future__ import annotations

import fcntl
import json
import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterator

from include.visionflow.errors import BadInputError, BadRowError, DecodeError
from include.visionflow.formats import clip as fmt
from include.visionflow.manifest import ItemResult, Status, read_manifest
from include.visionflow.paths import safe_component
from include.visionflow.shards import ShardSpec, process_shard, rows_per_shard, write_shards
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

SHARD_COLUMNS = ["key", "split", "path"]
THREADS = 8  # header reads: I/O bound
EXAMPLES = 20
DATASET_INFO = {"caltech101": {"file_name": "caltech101.json"}}


def _load(path: Path):
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path} cannot be read as JSON ({err}); run the annotate step again") from None


def _listed(entries, what: Path) -> Iterator[str]:
    if not isinstance(entries, list):
        raise BadInputError(f"{what} is not a JSON list of entries")
    return map(fmt.listed_image, entries)


def _coco_train_images(rows, what: Path) -> Iterator[str]:
    """Image paths of ``captions_train.json`` rows; a row without a usable id yields ``""``, which the
    check counts as a bad row instead of failing the whole plan."""
    if not isinstance(rows, list):
        raise BadInputError(f"{what} is not a JSON list of {{image_id, caption}} rows")
    return map(fmt.caption_row_image, rows)


def _split_paths(dataset: str, root: Path) -> Iterator[tuple[str, Iterator[str]]]:
    if dataset == "caltech101":
        split = _load(root / fmt.CALTECH_SPLIT)
        for name in fmt.SPLITS:
            items = split.get(name, []) if isinstance(split, dict) else []
            yield name, (f"{fmt.CALTECH_IMAGES}/{i[0] if isinstance(i, list) and i else ''}" for i in items)
    elif dataset == "mini_imagenet":
        for name in fmt.SPLITS:
            folder = root / name
            yield name, (f"{name}/{c.name}/{f.name}" for c in sorted(folder.iterdir()) if c.is_dir()
                         for f in sorted(c.iterdir()) if not f.name.startswith(".")) if folder.is_dir() else iter(())
    elif dataset == "mscoco2014":  # the lists as fetched: the written ones leave out what failed here
        path = fmt.source_list(root, "captions_train.json")
        yield "train", _coco_train_images(_load(path), path)
        for name in ("val", "test"):
            path = fmt.source_list(root, f"coco_karpathy_{name}.json")
            yield name, _listed(_load(path), path)
    else:
        for name in fmt.SPLITS:
            path = root / f"{dataset}_{name}.json"
            yield name, _listed(_load(path), path)


def plan(storage: Storage, work_rel: str, dataset: str, data_root: str | Path,
         per_shard: int | None = None) -> list[ShardSpec]:
    """Shards of ``{key, split, path}`` rows (distinct images per split) under ``<work_rel>/<split>/``."""
    root = Path(data_root) / fmt.LAYOUTS[dataset].root
    specs: list[ShardSpec] = []
    for split, paths in _split_paths(dataset, root):
        unique = list(dict.fromkeys(paths))
        rows = ({"key": f"{split}/{p}", "split": split, "path": p} for p in unique)
        size = per_shard or rows_per_shard(len(unique), minimum=5000)
        specs += write_shards(storage, f"{work_rel}/{split}", rows, size, SHARD_COLUMNS, label=split,
                              first_id=len(specs))
    log.info("planned %s shards: %s", len(specs), {s: sum(x.count for x in specs if x.label == s)
                                                   for s in fmt.SPLITS})
    return specs


def check_image(root: Path, row: dict) -> ItemResult:
    """One listed image: a safe relative path to a file that opens as an image."""
    from PIL import Image

    rel = row["path"]
    parts = rel.split("/")
    for part in parts:
        safe_component(part, "image path")
    path = root.joinpath(*parts)
    if not path.is_file():
        raise BadRowError("missing_image", f"{rel} is listed in {row['split']} but is not in {root}")
    try:
        with Image.open(path) as image:
            width, height, mode = image.width, image.height, image.mode
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DecodeError("undecodable", f"{rel}: {err}") from None
    return ItemResult(row["key"], Status.OK, detail=mode, output=rel, bytes=path.stat().st_size, width=width,
                      height=height)


def check_shard(storage: Storage, spec: ShardSpec, dataset: str, data_root: str | Path):
    root = Path(data_root) / fmt.LAYOUTS[dataset].root
    return process_shard(storage, spec, lambda row: check_image(root, row), threads=THREADS, log_name=dataset)


def report(storage: Storage, specs: list[ShardSpec], dataset: str, data_root: str | Path) -> dict:
    """``layout_report.json`` in the dataset folder; BadInputError when the expected tree is incomplete."""
    tree = fmt.LAYOUTS[dataset]
    splits: dict[str, Counter] = defaultdict(Counter)
    problems: dict[str, list[str]] = defaultdict(list)
    modes: Counter = Counter()
    failed: dict[tuple[str, str], str] = {}  # (split, image path) -> reason
    for spec in specs:
        for row in read_manifest(storage, spec.manifest_rel):
            counts = splits[spec.label]
            counts["images"] += 1
            if row.status is Status.OK:
                counts["ok"] += 1
                modes[row.detail] += 1
            else:
                counts[row.reason] += 1  # missing_image, undecodable, unsafe_image_path
                failed[(spec.label, row.key.split("/", 1)[-1])] = row.reason
                if len(problems[row.reason]) < EXAMPLES:
                    problems[row.reason].append(f"{row.key}: {row.detail}")
    checked = fmt.check_tree(Path(data_root), tree)
    result = {"dataset": dataset, "root": tree.root,
              "splits": {s: {"ok": 0, **dict(c)} for s, c in splits.items()},
              "image_modes": dict(modes), "problems": dict(problems), "tree": checked}
    if dataset == "mscoco2014":
        from include.visionflow.datasets.clip_lists import write_loadable_coco_lists

        result["left_out"] = write_loadable_coco_lists(Path(data_root) / tree.root, failed)
        result["originals"] = f"{tree.root}/{fmt.ORIGINALS}/"
    if dataset in DATASET_INFO:
        result["dataset_info"] = merge_dataset_info(Path(data_root), dataset, DATASET_INFO[dataset])
    storage.write_text(f"{tree.root}/layout_report.json", json.dumps(result, indent=1, sort_keys=True))
    missing = sum(c.get("missing_image", 0) for c in splits.values())
    log.info("%s: %s; %s listed images missing; report %s", dataset, result["splits"], missing,
             storage.uri(f"{tree.root}/layout_report.json"))
    if checked["missing"]:
        raise BadInputError(f"{dataset} layout under {data_root} is incomplete: {checked['missing']}")
    return result


def merge_dataset_info(data_root: Path, name: str, entry: dict) -> str:
    """Add ``name`` to ``<data_root>/dataset_info.json`` keeping every other entry (locked, atomic), and
    create its data file (an empty list, as the guide's ``caltech101.json``) when absent."""
    info = data_root / "dataset_info.json"
    with open(data_root / ".dataset_info.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = _load(info) if info.exists() else {}
        if not isinstance(current, dict):
            raise BadInputError(f"{info} is not a JSON object; fix or remove it")
        current[name] = entry
        tmp = info.with_name(".dataset_info.json.tmp")
        tmp.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(info)
        data_file = data_root / entry["file_name"]
        if not data_file.exists():
            data_file.write_text("[]\n")
    return str(info)
