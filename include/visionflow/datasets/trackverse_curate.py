"""Curated subsets of the parsed tracks (formats.md 2.4), deterministic for a seed.

Loading follows upstream ``curate_db.py``: every ``tracks_meta/<domain>/*/*-meta.jsonl.gzip``, de-duplicated on
``fn`` (and near-duplicate tracks dropped as the clip step does, so every selected track has a clip), videos in
the validation list left out; a track's class is its top-1 label and its score the top-1 weighted logit
(upstream reads a ``top10_wcls`` field that its tracker never writes: pitfall 6).

* ``random``: one seeded shuffle; each size N takes its first N tracks, so smaller subsets nest in larger ones.
* ``class_balanced``: for each size Nc, every class's Nc best tracks by score.
* ``video_balanced``: every video's ``per_video`` best tracks, then one seeded shuffle cut at each size N
  (documented upstream, never implemented there).

Each subset is ``tracks_subsets/<domain>/<name>.jsonl.gzip``, lines in index (file) order as upstream's
``save_subsets`` writes them, each in the run's ``record_format`` (:mod:`include.visionflow.tracking.records`):
class names become indices into the detector's class list there.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from collections import defaultdict

from include.visionflow.errors import BadInputError
from include.visionflow.storage import Storage
from include.visionflow.tracking.clips import drop_duplicates
from include.visionflow.tracking.meta import read_records, write_records
from include.visionflow.tracking.records import TrackRecord, class_index

log = logging.getLogger(__name__)
METHODS = ("random", "class_balanced", "video_balanced")


def load_tracks(storage: Storage, domain: str, exclude_yids: set[str]) -> list[dict]:
    tracks, seen = [], set()
    for rel in sorted(storage.list(f"tracks_meta/{domain}")):
        if not rel.endswith("-meta.jsonl.gzip"):
            continue
        for record in drop_duplicates(read_records(storage, rel)):
            if record["fn"] not in seen and record["yid"] not in exclude_yids:
                seen.add(record["fn"])
                tracks.append(record)
    return tracks


def score(record: dict) -> float:
    return float(record["top10_wlogit_mu"][0])


def ranked(indices: list[int], tracks: list[dict], order: dict[int, int]) -> list[int]:
    """Best score first; equal scores in shuffle order, so ties are broken by the seed, not by file order."""
    return sorted(indices, key=lambda i: (-score(tracks[i]), order[i]))


def select(tracks: list[dict], method: str, sizes: list[int], per_video: int, seed: int) -> dict[str, list[int]]:
    """Subset name -> indices into ``tracks`` (sorted)."""
    shuffled = list(range(len(tracks)))
    random.Random(seed).shuffle(shuffled)
    order = {index: rank for rank, index in enumerate(shuffled)}
    subsets: dict[str, list[int]] = {}
    if method == "random":
        for size in sizes:
            subsets[f"random-{size}"] = sorted(shuffled[:size])
    elif method == "class_balanced":
        by_class: dict[str, list[int]] = defaultdict(list)
        for i, track in enumerate(tracks):
            by_class[track["top10_desc"][0]].append(i)
        for size in sizes:
            chosen = [i for members in by_class.values() for i in ranked(members, tracks, order)[:size]]
            subsets[f"class-balanced-x{size}"] = sorted(chosen)
    elif method == "video_balanced":
        by_video: dict[str, list[int]] = defaultdict(list)
        for i, track in enumerate(tracks):
            by_video[track["yid"]].append(i)
        capped = {i for members in by_video.values() for i in ranked(members, tracks, order)[:per_video]}
        pool = [i for i in shuffled if i in capped]
        for size in sizes:
            subsets[f"video-balanced-x{per_video}-{size}"] = sorted(pool[:size])
    else:
        raise BadInputError(f"curation method {method!r}: use one of {', '.join(METHODS)}")
    return subsets


def validation_ids(entries) -> set[str]:
    ids: set[str] = set()
    for entry in entries:
        path = Path(str(entry))
        if path.suffix in (".txt", ".csv") or "/" in str(entry):
            if not path.is_file():
                raise BadInputError(f"validation list {entry!r} does not exist; give video ids or a local file")
            ids.update(line.strip()[:11] for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        else:
            ids.add(str(entry))
    return ids


def curate_subsets(storage: Storage, cfg) -> dict:
    methods = [m.strip() for m in str(cfg.curation).split(",") if m.strip()]
    sizes = sorted({int(s) for s in cfg.curation_sizes})
    if not methods or not sizes or sizes[0] <= 0 or cfg.per_video <= 0:
        raise BadInputError(f"curation {cfg.curation!r} with sizes {list(cfg.curation_sizes)} and per_video "
                            f"{cfg.per_video}: give a method ({', '.join(METHODS)}) and positive sizes")
    tracks = load_tracks(storage, cfg.domain, validation_ids(cfg.validation_yids))
    log.info("%d tracks of domain %s to curate (%s records)", len(tracks), cfg.domain, cfg.record_format)
    lines = subset_lines(tracks, cfg)
    written = {}
    for method in methods:
        for name, indices in select(tracks, method, sizes, cfg.per_video, cfg.seed).items():
            rel = f"tracks_subsets/{cfg.domain}/{name}.jsonl.gzip"
            write_records(storage, rel, [lines[i] for i in indices])
            written[name] = {"path": storage.uri(rel), "tracks": len(indices)}
            log.info("subset %s: %d tracks -> %s", name, len(indices), storage.uri(rel))
    return written


def subset_lines(tracks: list[dict], cfg) -> list[dict]:
    """Each track as its subset line, in ``cfg.record_format``."""
    if not tracks:  # nothing to name: no detector list needed
        return []
    from include.visionflow.models.detectors import detector_labels

    classes = class_index(detector_labels(cfg.detector, cfg.detector_settings))
    return [TrackRecord.from_meta(t, classes).render(cfg.record_format, cfg.domain) for t in tracks]
