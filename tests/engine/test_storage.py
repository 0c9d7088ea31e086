from __future__ import annotations

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.storage import LocalStorage, S3Options, S3Storage, open_storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, sample_source):
    if request.param == "local":
        return open_storage(str(tmp_path / "out"))
    s3 = sample_source.s3
    s3.ensure_bucket("storage-test")
    options = S3Options(endpoint_url=s3.endpoint_url, access_key="testing", secret_key="testing")
    return open_storage(f"s3://storage-test/run-{tmp_path.name}", options)


def test_write_read_list_delete(storage):
    storage.write_text("a/b/c.txt", "hello")
    storage.write_bytes("a/d.bin", b"\x00\x01")
    assert storage.exists("a/b/c.txt") and not storage.exists("a/missing")
    assert storage.read_text("a/b/c.txt") == "hello"
    assert storage.size("a/d.bin") == 2 and storage.size("nope") is None
    assert sorted(storage.list("a")) == ["a/b/c.txt", "a/d.bin"]
    storage.delete("a/d.bin")
    assert not storage.exists("a/d.bin")


def test_open_write_is_atomic(storage):
    with pytest.raises(RuntimeError):
        with storage.open_write("half.bin") as fh:
            fh.write(b"partial")
            raise RuntimeError("writer died")
    assert not storage.exists("half.bin")
    with storage.open_write("whole.bin") as fh:
        fh.write(b"complete")
    assert storage.read_bytes("whole.bin") == b"complete"


def test_local_copy_and_put_file(storage, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("payload")
    storage.put_file("x/y.txt", src)
    assert not src.exists()  # consumed
    with storage.local_copy("x/y.txt") as path:
        assert path.read_text() == "payload"


def test_keys_cannot_escape_root(storage):
    with pytest.raises(BadInputError, match="escapes"):
        storage.write_text("../../etc/evil", "x")


def test_local_outputs_are_world_readable(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write_text("a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_staging_files_are_not_listed(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write_text("kept.txt", "k")
    (storage.staging_dir() / "leftover.part").write_text("junk")
    assert list(storage.list()) == ["kept.txt"]


@pytest.mark.parametrize("root, message", [("", "empty"), ("s3://", "no bucket"), ("gs://b/p", "only local"),
                                           ("s3://b/../other", "without them"), ("s3://b/x/./y", "without them")])
def test_bad_roots_name_the_fix(root, message):
    with pytest.raises(BadInputError, match=message):
        open_storage(root)


def test_an_output_root_that_cannot_hold_files_is_bad_input(tmp_path):
    (tmp_path / "a-file").write_text("x")
    for root in (tmp_path / "a-file", tmp_path / "a-file" / "out"):
        with pytest.raises(BadInputError, match=f"output root {root} is not a writable folder.*choose a folder"):
            LocalStorage(root).write_text("kept.txt", "k")


def test_s3_options_never_show_secrets():
    options = S3Options(endpoint_url="http://127.0.0.1:1", access_key="AKIASECRET", secret_key="sup3rs3cret")
    assert "sup3rs3cret" not in repr(options) and "AKIASECRET" not in repr(options)
    assert isinstance(open_storage("s3://bucket/p", options), S3Storage)
