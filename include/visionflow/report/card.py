"""The dataset card: ``README.md`` at an output root, so a folder handed to someone explains itself."""
from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass, field

from include.visionflow.storage import Storage

LIST_SUFFIXES = (".txt", ".csv", ".tsv", ".tsv.gz", ".csv.gz", ".json", ".jsonl", ".memmap", ".zip")


@dataclass
class Card:
    """Markdown fields of a card. ``lists``: keys (or folder prefixes ending in ``/``) of the files a user
    loads; each is listed with its size, MD5 and (for text) line count."""
    title: str
    what: str
    source: str
    licence: str
    loading: str
    lists: list[str] = field(default_factory=list)
    layout: str = ""
    reports: str = "reports/"
    latest: tuple[str, ...] = ("report.html",)  # the latest run's copy, one per DAG writing this root


def _list_keys(storage: Storage, entries: list[str]) -> list[str]:
    keys: list[str] = []
    for entry in entries:
        if entry.endswith("/"):
            keys += [k for k in storage.list(entry.rstrip("/")) if k.endswith(LIST_SUFFIXES)
                     and "/_work/" not in f"/{k}"]
        elif storage.exists(entry):
            keys.append(entry)
    return sorted(dict.fromkeys(keys))


def describe_file(storage: Storage, rel: str, chunk: int = 1 << 20) -> tuple[int, str, int | None]:
    """(bytes, md5, lines or None for binary files), streamed: lists can be many GB."""
    md5, size, lines, last = hashlib.md5(), 0, 0, b"\n"
    text = not rel.endswith((".memmap", ".zip"))
    with storage.local_copy(rel) as path:
        with open(path, "rb") as raw:
            for block in iter(lambda: raw.read(chunk), b""):
                md5.update(block)
                size += len(block)
        if text:
            opener = gzip.open if rel.endswith(".gz") else open
            with opener(path, "rb") as fh:
                for block in iter(lambda: fh.read(chunk), b""):
                    lines += block.count(b"\n")
                    last = block[-1:]
            lines += 0 if last == b"\n" else 1
    return size, md5.hexdigest(), lines if text else None


def render_card(storage: Storage, card: Card) -> str:
    rows = []
    for rel in _list_keys(storage, card.lists):
        size, md5, lines = describe_file(storage, rel)
        rows.append(f"| `{rel}` | {size:,} | {'-' if lines is None else f'{lines:,}'} | `{md5}` |")
    files = ("| file | bytes | lines | md5 |\n|---|---:|---:|---|\n" + "\n".join(rows)) if rows else \
        "_No list files yet._"
    parts = [f"# {card.title}", card.what, "## Source", card.source, "## Licence and attribution", card.licence,
             "## Files", files]
    if card.layout:
        parts += ["## Layout", card.layout]
    latest = ", ".join(f"`{name}`" for name in card.latest)
    parts += ["## How to load it", card.loading,
              "## Run reports",
              f"Each run writes `{card.reports}<family>/<run id>/report.html` (counts, failed items, plots, samples) "
              f"and a copy of the latest run's here: {latest}.",
              f"_Card written by visionflow on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}._"]
    return "\n\n".join(p.strip() for p in parts) + "\n"


def write_card(storage: Storage, card: Card, rel: str = "README.md") -> str:
    storage.write_text(rel, render_card(storage, card))
    return storage.uri(rel)
