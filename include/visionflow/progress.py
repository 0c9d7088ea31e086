"""Progress lines for a task log: done/total, rate, ETA and failures so far, at a steady pace.

Airflow shows a task's log live; a shard of 18,000 images or a 9M-row metadata pass must say how far it got
without flooding the log, so a line is written at most every ``every`` seconds (and once at the end).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter

log = logging.getLogger("visionflow.progress")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Counts items (thread-safe) and logs ``name: done/total (pct), rate/s, ETA, failures by reason``.

    ``total=None`` is for steps whose size is unknown up front (rows read from a stream)."""

    def __init__(self, name: str, total: int | None, every: float = 20.0, unit: str = "items",
                 clock=time.monotonic):
        self.name, self.total, self.every, self.unit, self.clock = name, total, every, unit, clock
        self.started = self.last = clock()
        self.done = 0
        self.failures: Counter = Counter()
        self._lock = threading.Lock()

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def add(self, result=None, count: int = 1) -> None:
        """One finished item (an ``ItemResult``: failures are counted by reason) or ``count`` plain units."""
        with self._lock:
            self.done += count
            if result is not None and result.status.value != "ok":
                self.failures[result.reason or result.status.value] += 1
            now = self.clock()
            if now - self.last < self.every:
                return
            self.last = now
            line = self.line()
        log.info(line)

    def line(self) -> str:
        elapsed = max(self.elapsed, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.name}: {self.done}" + (f"/{self.total} {self.unit}" if self.total is not None
                                                 else f" {self.unit}")]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{rate:.1f} {self.unit}/s")
        if self.total is not None and rate > 0 and self.done < self.total:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        parts.append(f"elapsed {_duration(elapsed)}")
        failed = sum(self.failures.values())
        reasons = ", ".join(f"{r} {n}" for r, n in self.failures.most_common(5))
        parts.append(f"failed {failed}" + (f" ({reasons})" if failed else ""))
        return ", ".join(parts)

    def finish(self) -> None:
        log.info(self.line())
