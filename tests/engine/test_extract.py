"""Safe atomic extraction: every bad member kind is refused by name, and nothing appears outside the target
(or at the destination) when an archive is refused."""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from include.visionflow.archives import Budget
from include.visionflow.errors import BadInputError
from include.visionflow.extract import extract, folder_holding


def tar_with(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
            else:
                tar.addfile(m)
    return path


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


BAD_TAR_MEMBERS = {
    "absolute": ([("/tmp/evil.txt", b"x")], "absolute"),
    "dotdot": ([("ok.txt", b"o"), ("a/../../evil.txt", b"x")], r"'\.\.'"),
    "symlink_out": ([special("link", tarfile.SYMTYPE, "../../etc/passwd")], "outside the target"),
    "symlink_abs": ([special("link", tarfile.SYMTYPE, "/etc/passwd")], "absolute"),
    "hardlink_out": ([special("hard", tarfile.LNKTYPE, "../outside.txt")], "outside the target"),
    "write_through_link": ([special("l", tarfile.SYMTYPE, "d"), ("l/x.txt", b"x")], "non-folder"),
    "chardev": ([special("dev", tarfile.CHRTYPE)], "device file"),
    "blockdev": ([special("blk", tarfile.BLKTYPE)], "device file"),
    "fifo": ([special("pipe", tarfile.FIFOTYPE)], "FIFO"),
    "duplicate": ([("a.jpg", b"1"), ("./a.jpg", b"2")], "twice"),
    "file_over_folder": ([("a/b.jpg", b"1"), ("a", b"2")], "twice"),
    "control_char": ([("a\nb.txt", b"x")], "control character"),
}


@pytest.mark.parametrize("case", list(BAD_TAR_MEMBERS))
def test_bad_tar_member_is_refused_and_nothing_is_written(tmp_path, case):
    members, message = BAD_TAR_MEMBERS[case]
    archive = tar_with(tmp_path / "bad.tar.gz", members)
    root = tmp_path / "root"
    root.mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(BadInputError, match=message) as err:
        extract(archive, root / "out")
    assert "bad.tar.gz" in str(err.value)
    assert snapshot(tmp_path) == before  # no destination, no temp folder, nothing beside the root


def zip_with(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


BAD_ZIP_MEMBERS = {
    "absolute": ([("/etc/evil", b"x", 0)], "absolute"),
    "dotdot": ([("../evil", b"x", 0)], r"'\.\.'"),
    "backslash_dotdot": ([("..\\evil", b"x", 0)], r"'\.\.'"),
    "symlink_out": ([("link", b"../../outside", stat.S_IFLNK | 0o777)], "outside the target"),
    "fifo": ([("pipe", b"", stat.S_IFIFO | 0o644)], "FIFO"),
    "chardev": ([("dev", b"", stat.S_IFCHR | 0o644)], "device file"),
    "duplicate": ([("a/b.jpg", b"1", 0), ("a/b.jpg", b"2", 0)], "twice"),
}


@pytest.mark.parametrize("case", list(BAD_ZIP_MEMBERS))
def test_bad_zip_member_is_refused_and_nothing_is_written(tmp_path, case):
    members, message = BAD_ZIP_MEMBERS[case]
    with pytest.warns(UserWarning) if case == "duplicate" else _nothing():
        archive = zip_with(tmp_path / "bad.zip", members)
    before = snapshot(tmp_path)
    with pytest.raises(BadInputError, match=message):
        extract(archive, tmp_path / "root" / "out")
    assert snapshot(tmp_path) - before <= {"root"}
    assert not (tmp_path / "root" / "out").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_budget_refuses_too_many_members_and_bombs(tmp_path):
    many = tar_with(tmp_path / "many.tar", [(f"f{i}", b"") for i in range(11)])
    with pytest.raises(BadInputError, match="'f10' is past the budget of 10 members"):
        extract(many, tmp_path / "a", Budget(max_members=10))
    zeros = tar_with(tmp_path / "zeros.tar.gz", [("zero.bin", bytes(4 << 20))])
    with pytest.raises(BadInputError, match="'zero.bin'.*bomb"):
        extract(zeros, tmp_path / "b", Budget(max_ratio=10, ratio_floor=1 << 20))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_good_archive_appears_whole_with_inside_links(tmp_path):
    archive = tar_with(tmp_path / "good.tar", [
        ("./", b""), ("data/train/a.jpg", b"A"), ("data/val/b.jpg", b"B"),
        special("data/latest", tarfile.SYMTYPE, "val"), special("data/dot", tarfile.SYMTYPE, "."),
        special("data/up", tarfile.SYMTYPE, "dot/.."),  # kept as its normalised target: no chain out
        special("data/copy.jpg", tarfile.LNKTYPE, "data/train/a.jpg"),
    ])
    result = extract(archive, tmp_path / "out", pick=folder_holding("train", "val", what="a split tree"))
    out = tmp_path / "out"
    assert result.files == 2 and not result.reused
    assert snapshot(out) == {"train", "train/a.jpg", "val", "val/b.jpg", "latest", "copy.jpg", "dot", "up"}
    assert (out / "up").resolve() == out.resolve()
    assert (out / "latest" / "b.jpg").read_bytes() == b"B" and (out / "copy.jpg").read_bytes() == b"A"
    assert not (out / "copy.jpg").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.tar", "out"]
    assert extract(archive, out).reused  # the destination marks it done


def test_missing_folder_is_named_and_leftovers_are_cleaned(tmp_path):
    archive = tar_with(tmp_path / "flat.tar", [("x.jpg", b"x")])
    stale = tmp_path / ".out.extract-deadbeef"
    (stale / "half").mkdir(parents=True)
    with pytest.raises(BadInputError, match=r"no folder with \['train'\]; it is not mini-ImageNet"):
        extract(archive, tmp_path / "out", pick=folder_holding("train", what="mini-ImageNet"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.tar"]


def test_truncated_archive_is_a_clear_error(tmp_path):
    archive = tar_with(tmp_path / "t.tar.gz", [("a.bin", bytes(range(256)) * 4000)])
    archive.write_bytes(archive.read_bytes()[:500])
    with pytest.raises(BadInputError, match="not a readable archive"):
        extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tar.gz"]
