from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from include.sample_source.media import color_photos
from include.visionflow.archives import tar_to_zip
from include.visionflow.errors import BadInputError


def make_tar(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_zip_has_the_same_members_and_bytes(tmp_path):
    photos = {f"train_0/{n}.jpg": p.read_bytes() for n, p in list(color_photos().items())[:3]}
    photos["train_0/notes.txt"] = b"hello " * 100
    make_tar(tmp_path / "train_0.tar.gz", photos)
    result = tar_to_zip(tmp_path / "train_0.tar.gz", tmp_path / "train_0.zip")
    assert result.members == 4
    with zipfile.ZipFile(tmp_path / "train_0.zip") as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == photos
        assert zf.getinfo("train_0/notes.txt").compress_type == zipfile.ZIP_DEFLATED
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_corrupt_tarball_keeps_no_zip(tmp_path):
    make_tar(tmp_path / "t.tar.gz", {"a/b.txt": b"x" * 100000})
    data = (tmp_path / "t.tar.gz").read_bytes()
    (tmp_path / "t.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="not a readable tarball"):
        tar_to_zip(tmp_path / "t.tar.gz", tmp_path / "t.zip")
    assert not (tmp_path / "t.zip").exists()


def test_member_escaping_the_root_is_refused(tmp_path):
    make_tar(tmp_path / "evil.tar.gz", {"../../etc/x": b"x"})
    with pytest.raises(BadInputError, match="escape"):
        tar_to_zip(tmp_path / "evil.tar.gz", tmp_path / "evil.zip")
    assert not (tmp_path / "evil.zip").exists()


def test_tarball_of_a_folder_with_its_dot_entry_converts(tmp_path):
    src = tmp_path / "dir"
    (src / "sub").mkdir(parents=True)
    (src / "a.jpg").write_bytes(b"\xff\xd8jpeg")
    (src / "sub" / "b.txt").write_text("b")
    with tarfile.open(tmp_path / "t.tar", "w") as tar:
        tar.add(src, arcname=".")  # what `tar -C dir .` writes: ./, ./a.jpg, ./sub/, ./sub/b.txt
    result = tar_to_zip(tmp_path / "t.tar", tmp_path / "t.zip")
    with zipfile.ZipFile(tmp_path / "t.zip") as zf:
        assert sorted(zf.namelist()) == ["a.jpg", "sub/b.txt"]
    assert result.members == 2


@pytest.mark.parametrize("names", [["a.jpg", "a.jpg"], ["./a.jpg", "a.jpg"], ["d/a.jpg", "d//a.jpg"]])
def test_duplicate_members_are_refused_naming_the_member(tmp_path, names):
    with tarfile.open(tmp_path / "dup.tar", "w") as tar:
        for i, name in enumerate(names):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(bytes([i])))
    with pytest.raises(BadInputError, match="appears twice"):
        tar_to_zip(tmp_path / "dup.tar", tmp_path / "dup.zip")
    assert not (tmp_path / "dup.zip").exists()


def test_many_empty_members_convert_and_verify(tmp_path):
    with tarfile.open(tmp_path / "empty.tar", "w") as tar:
        for i in range(20000):
            tar.addfile(tarfile.TarInfo(f"m/{i:06d}.txt"), io.BytesIO(b""))
    result = tar_to_zip(tmp_path / "empty.tar", tmp_path / "empty.zip")
    assert result.members == 20000 and result.bytes == 0
    with zipfile.ZipFile(tmp_path / "empty.zip") as zf:
        assert len(zf.namelist()) == 20000


def test_a_tgz_of_zeros_is_refused_by_the_budget(tmp_path):
    from include.visionflow.archives import Budget

    with tarfile.open(tmp_path / "zeros.tgz", "w:gz") as tar:
        for i in range(4):
            info = tarfile.TarInfo(f"z{i}.bin")
            info.size = 8 << 20
            tar.addfile(info, io.BytesIO(bytes(info.size)))
    budget = Budget(max_ratio=50, ratio_floor=1 << 20)
    with pytest.raises(BadInputError, match=r"'z\d.bin'.*bomb"):
        tar_to_zip(tmp_path / "zeros.tgz", tmp_path / "zeros.zip", budget)
    assert not (tmp_path / "zeros.zip").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["zeros.tgz"]


def test_find_members_refuses_a_second_file_for_the_same_name(tmp_path):
    from include.visionflow.archives import find_members

    make_tar(tmp_path / "k.tar.gz", {"kinetics400/train.csv": b"real", "kinetics400/extra/train.csv": b"fake"})
    with pytest.raises(BadInputError, match="kinetics400/train.csv.*kinetics400/extra/train.csv"):
        find_members(tmp_path / "k.tar.gz", lambda n: n.rsplit("/", 1)[-1], 1 << 20)
    make_tar(tmp_path / "ok.tar.gz", {"kinetics400/train.csv": b"real", "kinetics400/test.csv": b"t"})
    assert find_members(tmp_path / "ok.tar.gz", lambda n: n.rsplit("/", 1)[-1], 1 << 20) == {
        "train.csv": b"real", "test.csv": b"t"}
