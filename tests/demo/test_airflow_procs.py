"""Process management shared by the demo and the distributed test, on real processes: a stop reaches the
whole process group (children included), survives a fresh Procs loaded from the pid file, and escalates to
SIGKILL for a process that ignores SIGTERM."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from include.demo import airflow_procs as ap

# A parent that starts a child, then both wait; the parent optionally ignores SIGTERM.
SCRIPT = """
import signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def _child_pid(log_file) -> int:
    return int(ap.poll(lambda: log_file.exists() and log_file.read_text().strip(), 30, "the child pid", 0.1))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_stop_from_the_pid_file_kills_the_group(tmp_path):
    procs = ap.Procs(log_dir=tmp_path, pid_file=tmp_path / "pids")
    leader = procs.start("sleeper", [sys.executable, "-c", SCRIPT, "plain"], dict(os.environ))
    child = _child_pid(tmp_path / "sleeper.log")
    again = ap.Procs.load(tmp_path / "pids", tmp_path)
    assert [e["name"] for e in again.alive()] == ["sleeper"]
    # `make stop` runs in another process than the starter; here the starter is this test, so reap its
    # child meanwhile as init would (a zombie leader keeps the group "existing").
    reaper = threading.Thread(target=leader.wait)
    reaper.start()
    again.stop(grace=10)
    reaper.join(timeout=10)
    assert leader.returncode is not None
    ap.poll(lambda: _gone(child), 10, "the child to exit", 0.1)
    assert ap.Procs.load(tmp_path / "pids", tmp_path).alive() == []


def test_sigterm_ignored_escalates_to_sigkill(tmp_path):
    procs = ap.Procs(log_dir=tmp_path)
    leader = procs.start("stubborn", [sys.executable, "-c", SCRIPT, "stubborn"], dict(os.environ))
    child = _child_pid(tmp_path / "stubborn.log")
    started = time.monotonic()
    procs.stop(grace=1)
    assert leader.poll() is not None
    ap.poll(lambda: _gone(child), 10, "the child to exit", 0.1)
    assert time.monotonic() - started < 60  # sanity bound only: stop() must not hang


def test_crashed_component_is_reported(tmp_path):
    procs = ap.Procs(log_dir=tmp_path)
    proc = procs.start("crasher", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
    proc.wait(timeout=30)
    try:
        procs.check_alive()
    except RuntimeError as exc:
        assert "crasher exited with code 3" in str(exc)
    else:
        raise AssertionError("check_alive() did not notice the crash")
