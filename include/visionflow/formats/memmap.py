"""File lists as raw numpy memmaps: ``N`` fixed-width byte strings, no header (upstream ``convert_to_mmaps.py``).

A list of hundreds of millions of paths does not fit in every DataLoader worker's memory; a memmap does not
need to: all workers map the same file and the page cache holds it once. The file is exactly
``width * N`` bytes of dtype ``S<width>`` (``S120`` upstream), each entry NUL-padded.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

from include.visionflow.errors import BadInputError

log = logging.getLogger(__name__)

WIDTH = 120


def write_memmap(path: str | Path, entries: Iterable[str], count: int, width: int = WIDTH) -> int:
    """Write ``count`` entries to ``path`` (a temp name, then renamed). An entry over ``width`` bytes, or a
    count that does not match, is an error naming the entry: a silently cut path would load the wrong file."""
    import numpy as np

    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    written = 0
    if count:
        arr = np.memmap(tmp, dtype=f"S{width}", mode="w+", shape=(count,))
        try:
            for i, entry in enumerate(entries):
                data = entry.encode("utf-8")
                if len(data) > width:
                    raise BadInputError(f"entry {i} is {len(data)} bytes, over the {width}-byte slot: {entry!r}")
                if i >= count:
                    raise BadInputError(f"more than the expected {count} entries")
                arr[i] = data
                written += 1
            arr.flush()
        finally:
            del arr
    else:
        tmp.write_bytes(b"")
    if written != count:
        tmp.unlink(missing_ok=True)
        raise BadInputError(f"expected {count} entries, got {written}")
    os.replace(tmp, path)
    log.info("wrote %s entries of S%s to %s", written, width, path)
    return written


class MemmapFileList:
    """Read-only ``len`` / ``[i]`` over a memmap file list, safe to hand to many DataLoader workers.

    The map is opened lazily in each process and dropped when pickled, so a forked or spawned worker maps
    the file itself and all of them share the page cache instead of copying the list.

    :param path: the ``.memmap`` file
    :param base_dir: prefix joined to every entry (e.g. the download ``root_dir``); empty for raw entries
    :param width: slot width in bytes (120 for upstream lists)
    """

    def __init__(self, path: str | Path, base_dir: str | Path = "", width: int = WIDTH):
        self.path = str(path)
        self.base_dir = str(base_dir)
        self.width = width
        size = os.path.getsize(self.path)
        if size % width:
            raise BadInputError(f"{self.path}: {size} bytes is not a multiple of the {width}-byte slot")
        self._len = size // width
        self._arr = None

    def __len__(self) -> int:
        return self._len

    def _array(self):
        if self._arr is None:
            import numpy as np

            self._arr = np.memmap(self.path, dtype=f"S{self.width}", mode="r", shape=(self._len,))
        return self._arr

    def __getitem__(self, index: int) -> str:
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(f"index {index} out of range for {self._len} entries")
        entry = bytes(self._array()[index]).rstrip(b"\0").decode("utf-8")
        return os.path.join(self.base_dir, entry) if self.base_dir else entry

    def __iter__(self) -> Iterator[str]:
        for i in range(self._len):
            yield self[i]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_arr"] = None  # each worker maps the file itself
        return state
