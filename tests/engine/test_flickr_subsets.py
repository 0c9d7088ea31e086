"""Lists and nested subsets from crawled days: nesting, determinism, MD5SUMS, cross-day de-duplication and
streaming (bounded buffers), plus the memmap conversion of a subset."""
from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess

import pytest

from include.visionflow.datasets.flickr import convert_to_mmap
from include.visionflow.datasets.flickr_layout import LIST_REL, DayLayout, read_md5sums
from include.visionflow.datasets.flickr_subsets import build_subsets, local_file, size_name
from include.visionflow.errors import BadInputError
from include.visionflow.formats.memmap import MemmapFileList
from include.visionflow.formats.openverse_tsv import ImageRecord, bucket_for, to_row
from include.visionflow.storage import open_storage


def record(i: int) -> ImageRecord:
    return ImageRecord(
        foreign_identifier=str(50_000_000_000 + i),
        foreign_landing_url=f"https://www.flickr.com/photos/o/{i}",
        url=f"https://live.staticflickr.com/65535/{50_000_000_000 + i}_abc{i % 7}.jpg",
        license="by", license_version="2.0", title=f"photo {i}", provider="flickr", source="flickr",
        width=500, height=375,
    )


def write_day(storage, day: str, ids, done: bool = True) -> None:
    layout = DayLayout(day)
    data = "".join(to_row(record(i)) + "\n" for i in ids).encode()
    storage.write_bytes(layout.tsv, gzip.compress(data, mtime=0))
    if done:
        storage.write_bytes(layout.done, b"")


def lines(storage, rel: str) -> list[str]:
    return gzip.decompress(storage.read_bytes(rel)).decode().splitlines()


@pytest.fixture
def crawled(tmp_path):
    storage = open_storage(str(tmp_path / "out"))
    write_day(storage, "2021-06-01", range(0, 400))
    write_day(storage, "2021-06-02", range(300, 800))  # 100 ids crawled again on the next day
    write_day(storage, "2021-06-03", range(5000, 5100), done=False)  # partial day: left out
    return storage


SIZES = (0.0001, 0.0002, 0.0005, 0.01)


def test_global_list_has_each_photo_once_with_its_bucket_path(crawled):
    result = build_subsets(crawled, seed=3, sizes_m=SIZES)
    rows = [line.split("\t") for line in lines(crawled, LIST_REL)]
    assert result.days == 2 and result.rows_read == 900 and result.total == len(rows) == 800
    ids = [r[0] for r in rows]
    assert len(set(ids)) == 800 and set(ids) == {str(50_000_000_000 + i) for i in range(800)}
    for photo_id, url, local in rows:
        bucket = bucket_for(photo_id)
        assert local == f"images/{bucket[0]}/{bucket[1]}/{bucket[2]}/{bucket}/{url.rsplit('/', 1)[1]}"
        assert local == local_file(bucket, url)
    buckets = [bucket_for(i) for i in ids]
    assert buckets == sorted(buckets)  # buckets in order, shuffled inside
    first = buckets[0]
    assert crawled.exists(f"images/{first[0]}/{first[1]}/{first[2]}/{first}.tsv.gz")


def test_subsets_are_nested_prefixes_and_only_below_the_total(crawled):
    result = build_subsets(crawled, seed=3, sizes_m=SIZES)
    full = lines(crawled, LIST_REL)
    names = [f.name for f in result.lists]
    assert names == ["flickr.tsv.gz", "flickr-0.0001M.tsv.gz", "flickr-0.0002M.tsv.gz", "flickr-0.0005M.tsv.gz"]
    assert not crawled.exists("lists/flickr-0.01M.tsv.gz")  # 10,000 > 800 lines: skipped as upstream
    for f in result.lists[1:]:
        assert lines(crawled, f"lists/{f.name}") == full[: f.lines]


def test_same_seed_same_bytes_other_seed_other_order(tmp_path, crawled):
    a = build_subsets(crawled, seed=3, sizes_m=SIZES)
    copy = open_storage(str(tmp_path / "copy"))
    for rel in crawled.list("meta"):
        copy.write_bytes(rel, crawled.read_bytes(rel))
    b = build_subsets(copy, seed=3, sizes_m=SIZES, buffer_rows=7)  # tiny buffers: many flushes, same result
    c = build_subsets(copy, seed=4, sizes_m=SIZES)
    assert [f.md5 for f in a.lists] == [f.md5 for f in b.lists]
    assert a.lists[0].md5 != c.lists[0].md5
    assert sorted(lines(crawled, LIST_REL)) == sorted(lines(copy, LIST_REL))


def test_md5sums_lists_every_file_with_md5_and_lines(crawled):
    result = build_subsets(crawled, seed=0, sizes_m=SIZES)
    sums = read_md5sums(crawled.read_text("lists/MD5SUMS"))
    assert set(sums) == {f.name for f in result.lists}
    for f in result.lists:
        data = crawled.read_bytes(f"lists/{f.name}")
        assert sums[f.name] == (hashlib.md5(data).hexdigest(), len(lines(crawled, f"lists/{f.name}")))
    if shutil.which("md5sum"):
        proc = subprocess.run(["md5sum", "-c", "MD5SUMS"], cwd=crawled.uri("lists"), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_crawled_day_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="run flickr_cc_crawl first"):
        build_subsets(open_storage(str(tmp_path)), seed=0)


@pytest.mark.parametrize("size, name", [(0.1, "flickr-0.1M.tsv.gz"), (20, "flickr-20M.tsv.gz"),
                                        (20.0, "flickr-20M.tsv.gz"), (0.0005, "flickr-0.0005M.tsv.gz")])
def test_subset_names_print_sizes_like_python(size, name):
    assert size_name(size) == name


@pytest.mark.slow
def test_memory_stays_flat_as_the_crawl_grows(tmp_path):
    """Peak Python memory of the list build barely moves when the crawl grows eightfold."""
    import tracemalloc

    def peak(n: int) -> int:
        storage = open_storage(str(tmp_path / f"n{n}-{len(list(tmp_path.iterdir()))}"))
        for d in range(4):
            write_day(storage, f"2021-07-0{d + 1}", range(d * n // 4, (d + 1) * n // 4))
        tracemalloc.start()
        build_subsets(storage, seed=0, sizes_m=(0.001,), buffer_rows=1000)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(2_000)  # warm-up: the first build imports modules lazily, and tracemalloc counts that too
    small, large = peak(2_000), peak(32_000)
    # Memory that grew with the crawl would be ~16x here. The peak of a flat build is its fixed buffers,
    # which measured 1.1-2.2 MB for either size depending on what earlier tests left behind (that noise
    # made an 8x crawl with a 2x bound flaky), so a 16x crawl is judged with a 3x bound.
    assert large < small * 3, (small, large)


def test_convert_to_mmap_holds_local_file_of_every_line_in_order(crawled):
    build_subsets(crawled, seed=1, sizes_m=SIZES)
    out = convert_to_mmap(crawled, "flickr-0.0005M.tsv.gz")
    assert out["rel"] == "lists/flickr-0.0005M.memmap" and out["count"] == 500 and out["dtype"] == "S120"
    expected = [line.split("\t")[2] for line in lines(crawled, "lists/flickr-0.0005M.tsv.gz")]
    files = MemmapFileList(crawled.uri(out["rel"]))
    assert len(files) == 500 and list(files) == expected
