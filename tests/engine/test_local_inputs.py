"""Issue 12 fix 8: local paths as inputs only from allowed folders, never echoed, copied streaming."""
from __future__ import annotations

import pytest

from include.visionflow.datasets import kinetics as k
from include.visionflow.datasets import openimages as oi
from include.visionflow.errors import BadInputError
from include.visionflow.fetch.http import Fetcher
from include.visionflow.storage import open_storage

HEADER = "ImageID,Subset,OriginalURL,OriginalLandingURL,License,AuthorProfileURL,Author,Title,OriginalSize," \
         "OriginalMD5,Thumbnail300KURL,Rotation\n"


@pytest.fixture
def allowed(tmp_path, monkeypatch):
    folder = tmp_path / "inputs"
    folder.mkdir()
    monkeypatch.setenv("VISIONFLOW_INPUT_DIRS", str(folder))
    return folder


def test_a_system_file_is_refused_without_quoting_it(allowed, tmp_path):
    storage = open_storage(str(tmp_path / "out"))
    with pytest.raises(BadInputError) as err:
        oi.fetch_metadata(storage, "/etc/passwd", oi.METADATA_REL, Fetcher())
    assert "outside the allowed input folders" in str(err.value) and "root:" not in str(err.value)


def test_a_symlink_out_of_the_allowed_folder_is_refused(allowed, tmp_path):
    secret = tmp_path / "private.csv"
    secret.write_text("password,hunter2\n")
    (allowed / "meta.csv").symlink_to(secret)
    with pytest.raises(BadInputError, match="outside"):
        oi.fetch_metadata(open_storage(str(tmp_path / "out")), str(allowed / "meta.csv"), oi.METADATA_REL,
                          Fetcher())


def test_a_wrong_file_in_the_allowed_folder_is_not_echoed(allowed, tmp_path):
    wrong = allowed / "notes.csv"
    wrong.write_text("alice:s3cretline:1000\n")
    with pytest.raises(BadInputError) as err:
        oi.fetch_metadata(open_storage(str(tmp_path / "out")), str(wrong), oi.METADATA_REL, Fetcher())
    assert "lacks column" in str(err.value) and "s3cretline" not in str(err.value)


def test_an_allowed_metadata_file_is_copied(allowed, tmp_path):
    meta = allowed / "image_ids_and_rotation.csv"
    meta.write_text(HEADER + "000002b66c9c498e,train,http://x/a.jpg,l,lic,p,a,t,1,aGVsbG8=,th,0\n")
    storage = open_storage(str(tmp_path / "out"))
    oi.fetch_metadata(storage, str(meta), oi.METADATA_REL, Fetcher())
    assert storage.read_text(oi.METADATA_REL) == meta.read_text()


def test_kinetics_annotations_from_outside_are_refused(allowed, tmp_path):
    outside = tmp_path / "annotations"
    outside.mkdir()
    (outside / "train.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    with pytest.raises(BadInputError, match="outside the allowed input folders"):
        k.fetch_annotations(open_storage(str(tmp_path / "out")), str(outside), ["train"])
