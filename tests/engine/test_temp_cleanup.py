"""Issue 12 fix 10: temp files a killed process left under ``<root>/.tmp`` are removed by the next run,
while those of a process still running are left alone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from include.visionflow.storage import STALE_AFTER, LocalStorage

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


def test_only_half_written_files_are_reported_as_a_killed_process(tmp_path, caplog):
    """Every process leaves its empty folder on a normal exit: the next one removes it without saying a
    process was killed; a folder still holding a file is what a kill leaves, and that is logged."""
    exited = subprocess.run([sys.executable, "-c", "import sys; from include.visionflow.storage import "
                             "LocalStorage; LocalStorage(sys.argv[1]).write_text('a.txt', 'a')", str(tmp_path)],
                            cwd=ROOT, check=True)
    assert exited.returncode == 0 and len(list((tmp_path / ".tmp").iterdir())) == 1
    with caplog.at_level("INFO", logger="include.visionflow.storage"):
        LocalStorage(tmp_path).write_text("b.txt", "b")
    assert len(list((tmp_path / ".tmp").iterdir())) == 1  # only this process's own folder is left
    assert "killed" not in caplog.text

    proc, folder = start_writer(tmp_path / "other")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with caplog.at_level("INFO", logger="include.visionflow.storage"):
        LocalStorage(tmp_path / "other").write_text("c.txt", "c")
    assert not (tmp_path / "other" / ".tmp" / folder).exists()
    assert "half-written files of 1 killed process(es)" in caplog.text
