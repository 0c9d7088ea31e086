"""Run one side of a case as a subprocess and measure it: wall time and peak RSS of its process tree.

Both sides of every case go through ``run_measured``, so they are measured the same way: wall time is
``perf_counter`` around the child's whole life (start-up included); peak memory is the largest sum of RSS over
the child and all its descendants, sampled every 20 ms with psutil. ``ru_maxrss`` of the children (the largest
single process) is kept too, as a cross-check that does not depend on sampling. CPU seconds (user + system of
the whole tree) are reported beside wall time: the machine is shared, and CPU time barely moves when other work
competes for the cores, while wall time does.
"""
from __future__ import annotations

import logging
import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Measurement:
    wall: float  # seconds
    peak_tree_mb: float  # largest sampled sum of RSS over the process tree
    max_single_mb: float  # ru_maxrss of the largest waited-for descendant (0 when not above earlier children)
    returncode: int
    stdout: str
    stderr: str
    cpu: float = 0.0  # user + system seconds of the tree (waited-for descendants): robust to a busy machine
    load: float = 0.0  # 1-minute load average when the run started: other work on the machine
    peak_anon_mb: float = 0.0  # same sampling, RSS minus file-backed pages: heap, not a written memmap


class TreeSampler(threading.Thread):
    """Peak summed RSS over the trees rooted at ``pids`` (one pid, or e.g. every Airflow component)."""

    def __init__(self, *pids: int):
        super().__init__(daemon=True, name="rss-sampler")
        self.pids = pids
        self.peak = 0
        self.peak_anon = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        roots = []
        for pid in self.pids:
            try:
                roots.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pass
        while not self._stop_event.is_set() and roots:
            total = anon = 0
            procs = []
            for root in roots:
                try:
                    procs += [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    pass
            if not procs:
                break
            for proc in procs:
                try:
                    info = proc.memory_info()
                    total += info.rss
                    anon += info.rss - info.shared
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    pass
            self.peak = max(self.peak, total)
            self.peak_anon = max(self.peak_anon, anon)
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                 timeout: float = 1800, log_path: Path | None = None) -> Measurement:
    """Run ``cmd`` to completion (killed after ``timeout`` s) and measure it.

    Dirty pages left by the previous run (a case writes gigabytes) are flushed first, outside the timing:
    otherwise whichever side runs next pays for the other's writeback.
    """
    os.sync()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # our own child's session only
        out, err = proc.communicate()
        err += f"\n[bench] killed after {timeout} s"
    wall = time.perf_counter() - started
    sampler.stop()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    after, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"$ {' '.join(map(str, cmd))}\n--- stdout\n{out}\n--- stderr\n{err}\n")
    return Measurement(wall, sampler.peak / 2**20, (after / 1024) if after > before else 0.0,
                       proc.returncode, out, err, cpu, load, sampler.peak_anon / 2**20)
