"""COCO 2014's lists as XTune's CLIP loader can read them whole (formats.md 4.1, pitfall 2).

XTune's ``ITC_Mscoco`` (Dassl) makes a ``Datum`` per entry of ``captions_train.json`` and
``coco_karpathy_{val,test}.json``, and ``Datum`` asserts that the image file exists: one missing image and the
whole dataset fails to load. So the lists under ``mscoco2014/`` are written with every entry whose image failed
the check left out (counted per reason in ``layout_report.json``), and ``captions_train.json`` with the ids in
the form its path recipe needs (:func:`formats.clip.xtune_image_id`). The files as fetched are kept, byte for
byte, in ``mscoco2014/originals/`` the first time a list is rewritten, and later runs read them from there: the
lists are rebuilt from what was fetched, so an image that turns up again is listed again.
"""
from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path

from include.visionflow.formats import clip as fmt

log = logging.getLogger(__name__)

ID_TOO_LONG = "id_over_6_digits"  # XTune's recipe cannot name the image (it pads to 6 digits only)


def _loadable(split: str, entry, failed: dict[tuple[str, str], str]) -> tuple[str | None, object]:
    """(why the entry is left out, or None; the entry as written)."""
    if split != "train":
        return failed.get((split, fmt.listed_image(entry))), entry
    image = fmt.caption_row_image(entry)
    reason = failed.get((split, image)) or ("" if image else "bad_row")
    if reason:
        return reason, entry
    xtune_id = fmt.xtune_image_id(entry["image_id"])  # the check found the image: the id is a number
    if xtune_id is None:
        return ID_TOO_LONG, entry
    return None, {**entry, "image_id": xtune_id}


def _write(root: Path, name: str, source: Path, entries: list, kept: list) -> None:
    target, original = root / name, root / fmt.ORIGINALS / name
    if kept == entries:  # nothing left out or changed: the list is the file as fetched
        if source != target:
            _replace(target, lambda tmp: shutil.copyfile(source, tmp))
        return
    if source == target:  # first rewrite: keep the file as fetched before replacing it
        _replace(original, lambda tmp: shutil.copyfile(source, tmp))
    _replace(target, lambda tmp: tmp.write_text(json.dumps(kept)))


def _replace(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)


def write_loadable_coco_lists(root: Path, failed: dict[tuple[str, str], str]) -> dict[str, dict[str, int]]:
    """Write the three lists under ``root`` (``<data_root>/mscoco2014``) from their sources, leaving out the
    entries whose image is in ``failed`` (``(split, image path) -> reason``, from the check); returns
    ``{list name: {reason: entries left out}}``. A list that is absent or not a JSON list is skipped (the
    plan and the tree check report it)."""
    left_out: dict[str, dict[str, int]] = {}
    for name, split in fmt.COCO_LISTS.items():
        source = fmt.source_list(root, name)
        if not source.is_file():
            continue
        entries = json.loads(source.read_bytes())
        if not isinstance(entries, list):
            continue
        dropped: Counter = Counter()
        kept = []
        for entry in entries:
            reason, written = _loadable(split, entry, failed)
            if reason:
                dropped[reason] += 1
            else:
                kept.append(written)
        _write(root, name, source, entries, kept)
        left_out[name] = dict(dropped)
        if dropped:
            log.info("%s: %s of %s entries left out (%s); as fetched in %s/", name, sum(dropped.values()),
                     len(entries), dict(dropped), fmt.ORIGINALS)
    return left_out
