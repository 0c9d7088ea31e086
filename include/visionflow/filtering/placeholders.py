"""Known "unavailable" placeholder pictures, recognised by perceptual hash and size.

The table is one data file, ``placeholders.json`` beside this module, each entry naming where it comes from.
Matching needs both the hash (within the entry's ``max_distance``) and the size, because a grey picture with
a line of text is structurally simple and a pHash alone could, rarely, fall near a real photo; the size pins
it to the host's own rendition. An entry whose ``phash`` is null (not measured yet) matches nothing and is
listed by :func:`unmeasured`, so a missing measurement is visible instead of silently guessed.

``python -m include.visionflow.filtering.placeholders FILE...`` prints the ``phash`` and ``sizes`` to put in
the table for files fetched from a host.
"""
from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from include.visionflow.filtering.signatures import Signature, hamming

TABLE = Path(__file__).with_name("placeholders.json")


@dataclass(frozen=True)
class Placeholder:
    name: str
    source: str
    phash: int | None  # signed int64, as in Signature; None: not measured
    sizes: tuple[tuple[int, int], ...] | None  # None: any size
    max_distance: int = 4
    url_path: str = ""
    note: str = ""

    def matches(self, sig: Signature) -> bool:
        if self.phash is None:
            return False
        if self.sizes is not None and (sig.width, sig.height) not in self.sizes:
            return False
        return hamming(sig.phash, self.phash) <= self.max_distance


def _int64(hex_text: str) -> int:
    value = int(hex_text, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def hex64(value: int) -> str:
    return f"{value & 0xFFFFFFFFFFFFFFFF:016x}"


def parse(data: dict) -> tuple[Placeholder, ...]:
    entries = []
    for e in data["placeholders"]:
        entries.append(Placeholder(
            name=e["name"], source=e["source"],
            phash=None if e.get("phash") is None else _int64(e["phash"]),
            sizes=None if e.get("sizes") is None else tuple((int(w), int(h)) for w, h in e["sizes"]),
            max_distance=int(e.get("max_distance", 4)), url_path=e.get("url_path", ""), note=e.get("note", "")))
    return tuple(entries)


@functools.cache
def load(path: str | Path = TABLE) -> tuple[Placeholder, ...]:
    return parse(json.loads(Path(path).read_text()))


def match(sig: Signature, table: tuple[Placeholder, ...] | None = None) -> Placeholder | None:
    """The first table entry ``sig`` matches, or None."""
    for entry in load() if table is None else table:
        if entry.matches(sig):
            return entry
    return None


def unmeasured(table: tuple[Placeholder, ...] | None = None) -> list[str]:
    """Names of entries that cannot match yet (no hash measured)."""
    return [e.name for e in (load() if table is None else table) if e.phash is None]


def main(argv: list[str]) -> int:
    from include.visionflow.filtering.signatures import compute

    for name in argv:
        sig = compute(Path(name).name, Path(name).read_bytes())
        print(json.dumps({"file": name, "phash": hex64(sig.phash), "sizes": [[sig.width, sig.height]],
                          "bytes": sig.bytes, "md5": sig.md5}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
