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
