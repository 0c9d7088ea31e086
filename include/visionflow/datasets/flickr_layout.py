"""Where Flickr-CC keeps things under its output root: one place for the names both the crawl/download
(``flickr.py``) and the lists (``flickr_subsets.py``) use, so neither imports the other.

    meta/<YYYY-MM-DD>/flickr_images_<YYYY-MM-DD>.tsv.gz   a crawled day (Openverse TSV + bucket column)
    meta/<YYYY-MM-DD>/crawl.json                         the day's crawl report
    meta/<YYYY-MM-DD>/done                               written last: the day is complete
    lists/flickr.tsv.gz, lists/<subset>.tsv.gz           the global list and nested subsets
    lists/MD5SUMS                                        ``md5sum -c`` format with ``# <file>: <n> lines`` comments
    <root_dir>/<local_file>                              a downloaded image (``file_suffix`` may rename it, below)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from include.visionflow.errors import BadInputError
from include.visionflow.storage import Storage

LIST_REL = "lists/flickr.tsv.gz"
MD5SUMS_REL = "lists/MD5SUMS"
SUFFIX_PATTERN = r"^[A-Za-z0-9_-]{0,32}$"
# The paper's training loader (continuous_ssl_problem ``MemMapImageListDataset``) opens every memmap entry
# with ``.replace('.jpg', '-256p.jpg')`` (formats.md 1.4, pitfall 7): that is the suffix that serves it.
PAPER_LOADER_SUFFIX = "-256p"


def check_suffix(file_suffix: str) -> str:
    if not re.match(SUFFIX_PATTERN, file_suffix):
        raise BadInputError(f"file_suffix {file_suffix!r}: use up to 32 letters, digits, '-' or '_' (e.g. "
                            f"{PAPER_LOADER_SUFFIX!r}, or empty for the listed names)")
    return file_suffix


def image_name(local_file: str, file_suffix: str = "") -> str:
    """The file a list's ``local_file`` is written to: ``file_suffix`` before every ``.jpg``, the very rewrite
    the paper's loader applies to a memmap entry (a name without ``.jpg`` is opened as listed, so it is kept)."""
    return local_file.replace(".jpg", f"{file_suffix}.jpg") if file_suffix else local_file


@dataclass(frozen=True)
class DayLayout:
    day: str

    @property
    def tsv(self) -> str:
        return f"meta/{self.day}/flickr_images_{self.day}.tsv.gz"

    @property
    def report(self) -> str:
        return f"meta/{self.day}/crawl.json"

    @property
    def done(self) -> str:
        return f"meta/{self.day}/done"


def crawled_days(storage: Storage) -> list[str]:
    """Days with a ``done`` marker, oldest first (a day without one is partial and left out)."""
    days = []
    for rel in storage.list("meta"):
        parts = rel.split("/")
        if len(parts) == 3 and parts[2] == "done":
            days.append(parts[1])
    return sorted(days)


def subset_stem(subset: str) -> str:
    name = Path(subset).name
    for suffix in (".tsv.gz", ".tsv", ".gz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_md5sums(text: str) -> dict[str, tuple[str, int]]:
    """``{file: (md5, lines)}`` from an MD5SUMS written by ``write_md5sums``."""
    counts: dict[str, int] = {}
    out: dict[str, tuple[str, int]] = {}
    for line in text.splitlines():
        if line.startswith("# ") and line.endswith(" lines"):
            name, _, rest = line[2:].rpartition(": ")
            counts[name] = int(rest.split()[0])
        elif line.strip():
            md5, name = line.split("  ", 1)
            out[name] = (md5, counts.get(name, -1))
    return out
