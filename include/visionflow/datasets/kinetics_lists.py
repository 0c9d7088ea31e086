"""Kinetics finishing steps: mmaction2 file lists, ``download_report.json`` and ``summary.json``.

Everything here reads the stage manifests, never the output trees: a clip is listed when its stage row is
``ok`` (new or reused). Label ids come from the sorted class folders of the *train* annotations, as
mmaction2's ``build_file_list.py`` numbers them, so train and val lists agree even when a run downloads only
some classes.
"""
from __future__ import annotations

import json
import logging

from include.visionflow.datasets.kinetics import annotation_rel, stage_spec
from include.visionflow.formats.mmaction import (ListEntry, label_index, label_map_name, label_name, label_of,
                                                list_name, render_list)
from include.visionflow.manifest import ItemResult, Status, merge_stats, read_manifest, read_stats
from include.visionflow.paths import label_dir
from include.visionflow.shards import ShardSpec, iter_csv
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

REPORT_REL = "download_report.json"
SUMMARY_REL = "summary.json"


def _train_label_column(storage: Storage) -> list[str]:
    with storage.local_copy(annotation_rel("train")) as path:
        return [row.get("label") or "" for row in iter_csv(path, required=("label",))]


def train_labels(storage: Storage) -> dict[str, int]:
    """Class folder → id from ``annotations/kinetics_train.csv``."""
    return label_index(_train_label_column(storage))


def stage_rows(storage: Storage, specs: list[ShardSpec], stage: str) -> dict[str, list[ItemResult]]:
    """Manifest rows of one stage, by split; shards without a manifest (stage skipped) give nothing."""
    rows: dict[str, list[ItemResult]] = {}
    for spec in specs:
        rel = stage_spec(spec, stage).manifest_rel
        if storage.exists(rel):
            rows.setdefault(spec.label, []).extend(read_manifest(storage, rel))
    return rows


def frame_count(result: ItemResult) -> int:
    if result.frames is None:
        raise ValueError(f"raw-frame row {result.key} has no frame count")
    return result.frames


def _entries(results: list[ItemResult], labels: dict[str, int], rawframes: bool) -> list[ListEntry]:
    entries, dropped = [], 0
    for result in results:
        label = label_of(result.key, labels) if result.status is Status.OK else None
        if label is None:
            dropped += result.status is Status.OK  # a class that train does not have, as upstream drops it
            continue
        if rawframes:
            entries.append(ListEntry(result.key, label, frame_count(result)))
        else:
            entries.append(ListEntry(f"{result.key}.mp4", label))
    if dropped:
        log.warning("%s clips have a class that is not in the train annotations; not listed", dropped)
    return sorted(entries, key=lambda e: e.path)  # the shuffle then depends only on the seed


def write_lists(storage: Storage, specs: list[ShardSpec], dataset: str, seed: int) -> dict[str, str]:
    """``<dataset>_<split>_list_videos.txt`` (from the clips stage) and ``..._rawframes.txt`` (when raw frames
    were made), lines shuffled with ``seed``. Returns list name → line count."""
    column = _train_label_column(storage)
    labels = label_index(column)
    written = {}
    for stage, kind in (("clips", "videos"), ("rawframes", "rawframes")):
        for split, results in sorted(stage_rows(storage, specs, stage).items()):
            entries = _entries(results, labels, rawframes=kind == "rawframes")
            name = list_name(dataset, split, kind)
            storage.write_text(name, render_list(entries, seed))
            written[name] = len(entries)
    folders = sorted(labels, key=labels.get)
    storage.write_text("label_map.txt", "".join(f"{name}\n" for name in folders))
    # mmaction2's own label_map_k400.txt: the same numbering, the names as the annotations spell them
    names = {label_dir(label): label_name(label) for label in column if label.strip()}
    storage.write_text(label_map_name(dataset), "".join(f"{names[folder]}\n" for folder in folders))
    log.info("file lists: %s (%s classes, seed %s)", written, len(labels), seed)
    return written


def report(storage: Storage, specs: list[ShardSpec] | None, dataset: str, seed: int | None = None) -> dict:
    """``download_report.json`` (one entry per failed clip, upstream's report without the successes) and
    ``summary.json`` (counts per split and stage). Returns the summary.

    It runs after failures too: ``specs=None`` (the plan never finished) or a shard without its clips stats
    makes the summary say ``"complete": false`` and why, instead of looking like a clean, small build."""
    failures = []
    problems = []
    if specs is None:
        problems.append("no shards: the annotations or plan step failed before any clip was planned")
    missing = [s.shard_id for s in specs or [] if not storage.exists(stage_spec(s, "clips").stats_rel)]
    if missing:
        problems.append(f"clips shards {missing} did not finish: their clips are not counted")
    specs = specs or []
    summary: dict = {"dataset": dataset, "seed": seed, "complete": not problems, "problems": problems,
                     "splits": {}}
    for split, results in sorted(stage_rows(storage, specs, "clips").items()):
        failures += [
            {"split": split, "clip_id": r.key, "status": r.status.value, "reason": r.reason, "detail": r.detail}
            for r in results if r.status is not Status.OK
        ]
    for spec in specs:
        split = summary["splits"].setdefault(spec.label, {})
        for stage in ("clips", "dense", "rawframes"):
            rel = stage_spec(spec, stage).stats_rel
            if storage.exists(rel):
                split.setdefault(stage, []).append(read_stats(storage, rel))
    for split, stages in summary["splits"].items():
        summary["splits"][split] = {stage: merge_stats(stats) for stage, stats in stages.items()}
    storage.write_text(REPORT_REL, json.dumps({"dataset": dataset, "complete": not problems, "problems": problems,
                                               "failures": failures}, indent=1))
    storage.write_text(SUMMARY_REL, json.dumps(summary, indent=1))
    return summary
