"""File lists as raw numpy memmaps: ``N`` fixed-width byte strings, no header (upstream ``convert_to_mmaps.py``).

A list of hundreds of millions of paths does not fit in every DataLoader worker's memory; a memmap does not
need to: all workers map the same file and the page cache holds it once. The file is exactly
``width * N`` bytes of dtype ``S<width>`` (``S120`` upstream), each entry NUL-padded, so it is written as
plain bytes in one pass: no count needed up front, no per-entry numpy assignment. Memory is bounded by the
blocks in flight between the inflating, parsing and writing threads (~250 MB at steady state, the same at
20M and 40M lines).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO, Iterable, Iterator

from include.visionflow.errors import BadInputError

log = logging.getLogger(__name__)

WIDTH = 120
BLOCK = 1 << 21  # inflated bytes split at a time by the block splitter: a block and its fields stay small


def _pack(entries: list[bytes], width: int, first_index: int) -> bytes:
    """NUL-padded slots for ``entries``; an entry over ``width`` bytes is an error naming it (numpy would
    silently cut it, and a cut path loads the wrong file, or none)."""
    import numpy as np

    if entries and max(map(len, entries)) > width:
        i, entry = next((i, e) for i, e in enumerate(entries) if len(e) > width)
        raise _too_long(first_index + i, entry, width)
    return np.array(entries, dtype=f"S{width}").tobytes() if entries else b""


def _too_long(index: int, entry: bytes, width: int) -> BadInputError:
    return BadInputError(f"entry {index} is {len(entry)} bytes, over the {width}-byte slot: "
                         f"{entry.decode('utf-8', 'replace')!r}")


def write_entries(out: IO[bytes], blocks: Iterable[list[bytes]], width: int = WIDTH) -> int:
    """Append blocks of entries to ``out`` as ``S<width>`` slots; returns how many were written."""
    written = 0
    for block in blocks:
        out.write(_pack(block, width, written))
        written += len(block)
    return written


def write_memmap(path: str | Path, entries: Iterable[str | bytes], width: int = WIDTH, block: int = 65536) -> int:
    """Write entries to ``path`` (a temp name, then renamed); returns the count."""

    def blocks() -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for entry in entries:
            batch.append(entry.encode("utf-8") if isinstance(entry, str) else entry)
            if len(batch) >= block:
                yield batch
                batch = []
        yield batch

    return _atomic(Path(path), lambda out: write_entries(out, blocks(), width))


def _atomic(path: Path, write) -> int:
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as out:
            count = write(out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("wrote %s entries to %s", count, path)  # often a staging file: callers log the final path
    return count


def gzip_column_blocks(path: str | Path, columns: int, keep: int) -> Iterator[list[bytes]]:
    """Column ``keep`` of every line of a (multi-member) gzip TSV, in blocks, with no per-line Python work:
    each decompressed block is split on tabs and newlines at once. Every line must have ``columns`` columns
    (checked per block by counting tabs; the line is named when the count is off)."""
    try:
        with open_gzip(path) as fh:
            rest, line_no = b"", 0
            while chunk := fh.read(BLOCK):
                block = rest + chunk
                cut = block.rfind(b"\n")
                body, rest = block[:cut], block[cut + 1:]
                if cut >= 0:
                    column, lines = _column(body, columns, keep, line_no, path)
                    line_no += lines
                    yield column
    except EOFError:
        raise BadInputError(f"{path} is truncated (the gzip stream does not end)") from None
    if rest:
        yield _column(rest, columns, keep, line_no, path)[0]


def open_gzip(path: str | Path):
    """A (multi-member) gzip file as a binary stream, inflated by ISA-L in a background thread: ~3.5x
    zlib's speed, and inflating is most of a list's read time. A cut-off file raises EOFError."""
    from isal import igzip_threaded

    return igzip_threaded.open(path, "rb", threads=1)


def _column(body: bytes, columns: int, keep: int, first: int, path) -> tuple[list[bytes], int]:
    """(column ``keep`` of each line of ``body``, number of lines)."""
    lines = body.count(b"\n") + 1
    fields = body.replace(b"\n", b"\t").split(b"\t")
    if len(fields) != columns * lines:
        bad = next(i for i, ln in enumerate(body.split(b"\n")) if ln.count(b"\t") != columns - 1)
        raise BadInputError(f"{path} line {first + bad + 1}: expected {columns} tab-separated columns")
    return fields[keep::columns], lines


def list_to_memmap(src: str | Path, dest: str | Path, columns: int = 3, width: int = WIDTH) -> int:
    """The last column of every line of a gzip list, in order, as ``S<width>`` slots in ``dest``.

    Arrow's CSV reader does the per-line work in C++ while ISA-L inflates in its own thread (``open_gzip``), ~3x faster than
    splitting blocks in Python. Input Arrow rejects (a line with the wrong number of columns) is read again
    by the block splitter, which names the line.
    """
    try:
        return _atomic(Path(dest), lambda out: _arrow_column_to_slots(src, out, columns, width))
    except _ArrowRejected:
        blocks = gzip_column_blocks(src, columns, columns - 1)
        return _atomic(Path(dest), lambda out: write_entries(out, blocks, width))


class _ArrowRejected(Exception):
    pass


def _arrow_column_to_slots(src: str | Path, out: IO[bytes], columns: int, width: int) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(columns)]
    # One parsing thread: ISA-L and the writer use the other core. 4 MB blocks: 1 MB ones cost ~10% in speed.
    read = pacsv.ReadOptions(column_names=names, block_size=1 << 22, use_threads=False)
    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False, escape_char=False,
                               ignore_empty_lines=False)  # an empty line is an error, as in the block splitter
    convert = pacsv.ConvertOptions(column_types={names[-1]: pa.binary()}, include_columns=[names[-1]])
    written = 0
    try:
        with open_gzip(src) as raw, pacsv.open_csv(pa.PythonFile(raw, mode="r"), read_options=read,
                                                    parse_options=parse, convert_options=convert) as reader, \
                _BackgroundWriter(out) as writer:
            for batch in reader:
                entries = batch.column(0)
                if not len(entries):
                    continue
                lengths = pc.binary_length(entries)
                shortest, longest = (v.as_py() for v in pc.min_max(lengths).values())
                if shortest == 0:
                    # Arrow reads an empty line as a row of empty fields; the block splitter names it.
                    raise _ArrowRejected()
                if longest > width:
                    i = pc.index(pc.greater(lengths, width), True).as_py()
                    raise _too_long(written + i, entries[i].as_py(), width)
                # ascii_rpad counts bytes, so any UTF-8 entry becomes exactly ``width`` bytes: the padded
                # array's data buffer is the slots themselves.
                slots = pc.ascii_rpad(entries.view(pa.string()), width=width, padding="\0")
                offsets = np.frombuffer(slots.buffers()[1], np.int32, len(slots) + 1, slots.offset * 4)
                first, end = int(offsets[0]), int(offsets[-1])
                assert end - first == width * len(slots)
                writer.write(memoryview(slots.buffers()[2])[first:end])
                written += len(slots)
    except pa.ArrowInvalid as err:
        log.info("%s: Arrow rejected the list (%s); re-reading it line by line", src, str(err)[:200])
        raise _ArrowRejected() from err
    except EOFError:
        raise BadInputError(f"{src} is truncated (the gzip stream does not end)") from None
    return written


class _BackgroundWriter:
    """Writes buffers in its own thread, at most ``depth`` behind: copying ~2.4 GB of slots into the page
    cache takes as long as parsing them, and the two overlap on separate cores."""

    def __init__(self, out: IO[bytes], depth: int = 4):
        import queue
        import threading

        self.out, self.queue = out, queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="vf-memmap-writer", daemon=True)

    def __enter__(self) -> "_BackgroundWriter":
        self.thread.start()
        return self

    def _run(self) -> None:
        while (buf := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.out.write(buf)
                except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                    self.error = err

    def write(self, buf) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(buf)

    def __exit__(self, *exc) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


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
