"""Issue 12 fix 10: temp files a killed process left under ``<root>/.tmp`` are removed by the next run,
while those of a process still running are left alone; issue 24: a process that ends leaves none."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from include.visionflow.storage import STALE_AFTER, LocalStorage, release_staging, tidy_staging_root

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHILD = """
import sys
from include.visionflow.storage import LocalStorage
staging = LocalStorage(sys.argv[1]).staging_dir()
(staging / "half-written.jpg.part").write_bytes(b"x" * 1000)
print(staging.name, flush=True)
sys.stdin.read()  # stay alive until the test closes stdin or kills us
"""


def start_writer(root) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_a_killed_writers_temp_folder_is_removed_by_the_next_run(tmp_path):
    proc, folder = start_writer(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / ".tmp" / folder / "half-written.jpg.part").exists()
    LocalStorage(tmp_path).write_text("out.txt", "rerun")
    assert not (tmp_path / ".tmp" / folder).exists()
    assert (tmp_path / "out.txt").read_text() == "rerun"


def test_a_running_writers_temp_files_are_kept(tmp_path):
    proc, folder = start_writer(tmp_path)
    try:
        LocalStorage(tmp_path).write_text("out.txt", "concurrent")
        assert (tmp_path / ".tmp" / folder / "half-written.jpg.part").exists()
    finally:
        proc.kill()
        proc.wait()


def test_other_hosts_folders_go_only_when_stale(tmp_path):
    tmp = tmp_path / ".tmp"
    old, fresh, loose = tmp / "otherhost-123-456", tmp / "otherhost-124-457", tmp / "tmpab12cd.part"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "x.part").write_bytes(b"x")
    loose.write_bytes(b"x")
    long_ago = time.time() - STALE_AFTER - 60
    for path in (old / "x.part", old, loose):
        os.utime(path, (long_ago, long_ago))
    LocalStorage(tmp_path).write_text("out.txt", "x")
    assert not old.exists() and not loose.exists()
    assert (fresh / "x.part").exists()


def test_a_process_that_exits_leaves_no_temp_folder(tmp_path):
    """Issue 24: a normal exit removes the process's empty folder, and ``.tmp`` when nothing else is in it."""
    exited = subprocess.run([sys.executable, "-c", "import sys; from include.visionflow.storage import "
                             "LocalStorage, S3Storage; LocalStorage(sys.argv[1]).write_text('a.txt', 'a'); "
                             "print(S3Storage('b', '').staging_dir())", str(tmp_path)],
                            cwd=ROOT, check=True, capture_output=True, text=True)
    assert (tmp_path / "a.txt").read_text() == "a"
    assert not (tmp_path / ".tmp").exists()
    s3_staging = exited.stdout.strip()
    assert "visionflow-staging" in s3_staging and not os.path.exists(s3_staging)  # an S3 root stages here

    proc, folder = start_writer(tmp_path)  # a live writer's folder (holding a file) keeps .tmp
    try:
        subprocess.run([sys.executable, "-c", "import sys; from include.visionflow.storage import LocalStorage; "
                        "LocalStorage(sys.argv[1]).write_text('b.txt', 'b')", str(tmp_path)], cwd=ROOT, check=True)
        assert [p.name for p in (tmp_path / ".tmp").iterdir()] == [folder]
    finally:
        proc.kill()
        proc.wait()


def test_release_keeps_files_and_other_processes_folders(tmp_path):
    storage = LocalStorage(tmp_path)
    mine = storage.staging_dir()
    other = tmp_path / ".tmp" / "otherhost-1-2"
    other.mkdir()
    release_staging()
    assert not mine.exists() and other.is_dir()  # .tmp stays: another process's folder is in it
    (storage.staging_dir() / "in-use.part").write_bytes(b"x")  # staging again makes the folder again
    other.rmdir()
    release_staging()
    assert (mine / "in-use.part").exists()  # rmdir only: a file keeps its folder
    (mine / "in-use.part").unlink()
    release_staging()  # nothing staged since: a no-op
    storage.write_text("c.txt", "c")
    release_staging()
    assert not (tmp_path / ".tmp").exists()


def test_the_run_tidy_removes_a_dead_processes_folder_and_keeps_a_live_ones(tmp_path):
    """The report tidies every root the run wrote: what a killed task left goes at once (not only after
    the next run's first write), a task still running keeps its folder."""
    killed, gone = start_writer(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    tidy_staging_root(tmp_path / ".tmp")
    assert not (tmp_path / ".tmp").exists()
    live, folder = start_writer(tmp_path)
    try:
        tidy_staging_root(tmp_path / ".tmp", settle=0.0)
        assert (tmp_path / ".tmp" / folder / "half-written.jpg.part").exists()
    finally:
        live.kill()
        live.wait()
    assert gone != folder


def test_only_half_written_files_are_reported_as_a_killed_process(tmp_path, caplog):
    """A folder still holding a file is what a kill leaves, and that is logged; the next process's own
    folder is not mistaken for one."""
    with caplog.at_level("INFO", logger="include.visionflow.storage"):
        LocalStorage(tmp_path).write_text("b.txt", "b")
    assert len(list((tmp_path / ".tmp").iterdir())) == 1  # only this process's own folder
    assert "killed" not in caplog.text

    proc, folder = start_writer(tmp_path / "other")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with caplog.at_level("INFO", logger="include.visionflow.storage"):
        LocalStorage(tmp_path / "other").write_text("c.txt", "c")
    assert not (tmp_path / "other" / ".tmp" / folder).exists()
    assert "half-written files of 1 killed process(es)" in caplog.text
