"""Issue 12 fix 9: a second ``train.csv`` anywhere in a Kinetics annotation tarball is an error naming both
members, never a silent replacement of the real one."""
from __future__ import annotations

import io
import tarfile

import pytest

from include.visionflow.datasets import kinetics as k
from include.visionflow.errors import BadInputError
from include.visionflow.storage import open_storage

CSV = b"label,youtube_id,time_start,time_end,split,is_cc\nabseiling,aaaaaaaaaaa,0,10,train,0\n"


def annotations_tarball(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_stray_train_csv_is_refused_naming_both(tmp_path):
    tarball = annotations_tarball(tmp_path / "k400.tar.gz", {
        "kinetics400/train.csv": CSV, "kinetics400/validate.csv": CSV,
        "kinetics400/backup/old/train.csv": b"label,youtube_id\nwrong,x\n",
    })
    with pytest.raises(BadInputError, match="kinetics400/train.csv.*kinetics400/backup/old/train.csv"):
        k.fetch_annotations(open_storage(str(tmp_path / "out")), str(tarball), ["val"])
    assert not (tmp_path / "out" / "annotations").exists()


def test_a_tarball_made_with_dot_entries_is_read(tmp_path):
    tarball = annotations_tarball(tmp_path / "k400.tar.gz", {"./train.csv": CSV, "./validate.csv": CSV})
    storage = open_storage(str(tmp_path / "out"))
    assert k.fetch_annotations(storage, str(tarball), ["val"]) == {"train": "annotations/kinetics_train.csv",
                                                                   "val": "annotations/kinetics_val.csv"}
    assert storage.read_bytes("annotations/kinetics_train.csv") == CSV
