"""The S120 memmap file list: upstream-compatible bytes, round trip, the 120-byte limit, worker sharing."""
from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.formats.memmap import MemmapFileList, list_to_memmap, write_memmap

ENTRIES = [f"images/0/1/2/0123/{i}_abc.jpg" for i in range(50)] + ["images/9/9/9/9999/ünïcode.jpg"]


def test_round_trip_and_upstream_layout(tmp_path):
    path = tmp_path / "flickr-test.memmap"
    assert write_memmap(path, iter(ENTRIES)) == len(ENTRIES)
    assert path.stat().st_size == 120 * len(ENTRIES)  # header-less, exactly N slots
    raw = np.memmap(path, dtype="S120", mode="r", shape=(len(ENTRIES),))  # how upstream's loader reads it
    assert [bytes(x).decode("utf-8") for x in raw] == ENTRIES
    files = MemmapFileList(path)
    assert len(files) == len(ENTRIES) and files[0] == ENTRIES[0] and files[-1] == ENTRIES[-1]
    assert list(files) == ENTRIES
    with pytest.raises(IndexError):
        files[len(ENTRIES)]
    rooted = MemmapFileList(path, base_dir="/data/flickr")
    assert rooted[3] == f"/data/flickr/{ENTRIES[3]}"


def test_an_entry_of_exactly_120_bytes_fits_and_121_fails_clearly(tmp_path):
    fits = "images/" + "a" * 109 + ".jpg"
    assert len(fits.encode()) == 120
    write_memmap(tmp_path / "ok.memmap", [fits])
    assert MemmapFileList(tmp_path / "ok.memmap")[0] == fits
    too_long = fits.replace(".jpg", "x.jpg")
    with pytest.raises(BadInputError, match="entry 1 is 121 bytes, over the 120-byte slot"):
        write_memmap(tmp_path / "bad.memmap", ["images/x.jpg", too_long])
    assert not (tmp_path / "bad.memmap").exists() and not list(tmp_path.glob(".bad*"))


def test_list_conversion_reads_multi_member_gzip_and_checks_columns(tmp_path):
    import gzip

    lines = [f"{i}\thttp://x/{i}.jpg\t{e}" for i, e in enumerate(ENTRIES)]
    half = len(lines) // 2
    src = tmp_path / "list.tsv.gz"
    # Two gzip members, as upstream's bucket files are built by appending.
    src.write_bytes(gzip.compress(("\n".join(lines[:half]) + "\n").encode()) +
                    gzip.compress(("\n".join(lines[half:]) + "\n").encode()))
    assert list_to_memmap(src, tmp_path / "list.memmap") == len(ENTRIES)
    assert list(MemmapFileList(tmp_path / "list.memmap")) == ENTRIES
    bad = tmp_path / "bad.tsv.gz"
    bad.write_bytes(gzip.compress(b"1\tu\timages/a.jpg\n2\timages/b.jpg\n"))
    with pytest.raises(BadInputError, match="line 2: expected 3 tab-separated columns"):
        list_to_memmap(bad, tmp_path / "bad.memmap")
    truncated = tmp_path / "cut.tsv.gz"
    truncated.write_bytes(src.read_bytes()[:-12])
    with pytest.raises(BadInputError, match="truncated"):
        list_to_memmap(truncated, tmp_path / "cut.memmap")


def test_empty_list_and_corrupt_size(tmp_path):
    write_memmap(tmp_path / "empty.memmap", [])
    assert len(MemmapFileList(tmp_path / "empty.memmap")) == 0
    (tmp_path / "odd.memmap").write_bytes(b"x" * 121)
    with pytest.raises(BadInputError, match="not a multiple"):
        MemmapFileList(tmp_path / "odd.memmap")


def _read_in_worker(args):
    files, indexes = args
    return [files[i] for i in indexes]


def test_pickles_without_the_map_and_works_in_worker_processes(tmp_path):
    path = tmp_path / "list.memmap"
    write_memmap(path, ENTRIES)
    files = MemmapFileList(path)
    files[0]  # map it in this process
    clone = pickle.loads(pickle.dumps(files))
    assert clone._arr is None and clone[5] == ENTRIES[5]
    assert len(pickle.dumps(files)) < 1000  # the list itself is never copied to workers
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parts = pool.map(_read_in_worker, [(files, range(0, 25)), (files, range(25, len(ENTRIES)))])
    assert parts[0] + parts[1] == ENTRIES


def _upstream_loop(src, size):
    """formats.md 1.4's convert_to_mmaps.py loop, as the reference bytes (entries encoded as UTF-8: numpy
    refuses to put a non-ASCII str into an S slot, so upstream fails on such a line where we store it)."""
    import gzip

    out = np.zeros(size, dtype="S120")
    with gzip.open(src, "rt") as fh:
        for i, line in enumerate(fh):
            out[i] = line.strip().split("\t")[-1].encode("utf-8")
    return out.tobytes()


def test_list_conversion_matches_the_upstream_loop_across_many_blocks(tmp_path):
    import gzip

    # ~300k lines, several of Arrow's 4 MB blocks, with unicode entries and varied lengths.
    lines = [f"{i}\thttps://live.staticflickr.com/{i}.jpg\timages/{i % 7}/{'ü' * (i % 5)}{i}_{'x' * (i % 60)}.jpg"
             for i in range(300_000)]
    src = tmp_path / "big.tsv.gz"
    src.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1))
    assert list_to_memmap(src, tmp_path / "big.memmap") == len(lines)
    assert (tmp_path / "big.memmap").read_bytes() == _upstream_loop(src, len(lines))


def test_list_conversion_names_the_too_long_entry_and_the_empty_line(tmp_path):
    import gzip

    long_entry = "images/" + "a" * 110 + ".jpg"  # 121 bytes
    src = tmp_path / "long.tsv.gz"
    src.write_bytes(gzip.compress(f"1\tu\timages/a.jpg\n2\tu\t{long_entry}\n".encode()))
    with pytest.raises(BadInputError, match="entry 1 is 121 bytes, over the 120-byte slot"):
        list_to_memmap(src, tmp_path / "long.memmap")
    assert not (tmp_path / "long.memmap").exists()
    empty = tmp_path / "empty-line.tsv.gz"
    empty.write_bytes(gzip.compress(b"1\tu\timages/a.jpg\n\n3\tu\timages/c.jpg\n"))
    with pytest.raises(BadInputError, match="line 2: expected 3 tab-separated columns"):
        list_to_memmap(empty, tmp_path / "empty.memmap")


def test_a_failing_write_surfaces_and_leaves_no_output(tmp_path):
    """The slots are written from a background thread; a disk error there must reach the caller."""
    import errno
    import gzip

    from include.visionflow.formats import memmap

    lines = [f"{i}\thttp://x/{i}.jpg\timages/{i}.jpg" for i in range(200_000)]  # several 4 MB blocks
    src = tmp_path / "list.tsv.gz"
    src.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1))

    class FullDisk:
        calls = 0

        def write(self, buf):
            FullDisk.calls += 1
            if FullDisk.calls > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            return len(buf)

    with pytest.raises(OSError, match="No space left"):
        memmap._atomic(tmp_path / "out.memmap", lambda out: memmap._arrow_column_to_slots(src, FullDisk(), 3, 120))
    assert not (tmp_path / "out.memmap").exists() and not list(tmp_path.glob(".out*"))
