"""Progress lines for a task log: done/total, rate, ETA and failures so far, at a steady pace.

Airflow shows a task's log live; a shard of 18,000 images or a 9M-row metadata pass must say how far it got
without flooding the log, so a line is written at most every ``every`` seconds (and once at the end). With
:meth:`Progress.start` a timer also writes one whenever ``every`` seconds passed without a line: a shard whose
items all hang (one URL dripping a byte every few seconds) would otherwise log nothing until one finishes.
Lines then name the items in flight for longer than ``slow_after`` seconds, so a stall shows where it is.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import Counter
from typing import Iterator

log = logging.getLogger("visionflow.progress")

SLOW_SHOWN = 5  # slow items named per line, the longest first


def _age(seconds: float) -> str:
    """A slow item's age: tenths below a minute, where thresholds of a few seconds are told apart."""
    return f"{seconds:.1f}s" if seconds < 60 else _duration(seconds)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Counts items (thread-safe) and logs ``name: done/total (pct), rate/s, ETA, failures by reason``.

    ``total=None`` is for steps whose size is unknown up front (rows read from a stream). ``slow_after``
    is how long an item runs before lines name it; by default half of ``every``, so the first timed line
    after a stall already names the items that began with it."""

    def __init__(self, name: str, total: int | None, every: float = 20.0, unit: str = "items",
                 clock=time.monotonic, slow_after: float | None = None):
        self.name, self.total, self.every, self.unit, self.clock = name, total, every, unit, clock
        self.slow_after = every / 2 if slow_after is None else slow_after
        self.started = self.last = clock()
        self.done = 0
        self.failures: Counter = Counter()
        self._lock = threading.Lock()
        self._in_flight: dict[int, tuple[str, str, float]] = {}  # token -> (key, host, started)
        self._tokens = itertools.count()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    @contextlib.contextmanager
    def running(self, key: str, host: str = "") -> Iterator[None]:
        """Marks one item in flight while the block runs (``host``: where it is fetched from, if anywhere)."""
        token = next(self._tokens)
        with self._lock:
            self._in_flight[token] = (key, host, self.clock())
        try:
            yield
        finally:
            with self._lock:
                del self._in_flight[token]

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
            line = self.line(slow=True)
        log.info(line)

    def start(self) -> "Progress":
        """Start the timer (a daemon thread, stopped by :meth:`stop` or :meth:`finish`); no timer for
        ``every <= 0``, where every item already writes a line."""
        if self.every > 0 and self._timer is None:
            self._timer = threading.Thread(target=self._tick, name="vf-progress", daemon=True)
            self._timer.start()
        return self

    def _tick(self) -> None:
        while True:
            with self._lock:
                wait = self.last + self.every - self.clock()
                if wait <= 0:
                    self.last = self.clock()
                    line = self.line(slow=True)
            if wait > 0:
                if self._stop.wait(wait):  # woken early by stop(); else re-check: add() may have logged
                    return
                continue
            log.info(line)

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
            self._timer = None

    def line(self, slow: bool = False) -> str:
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
        return ", ".join(parts) + (self._slow_items() if slow else "")

    def _slow_items(self) -> str:
        """``; in flight over 20s: key (host, 1m05s), ...``; empty when no item is that slow (lock held)."""
        now = self.clock()
        slow = sorted(((now - began, key, host) for key, host, began in self._in_flight.values()
                       if now - began >= self.slow_after), reverse=True)
        if not slow:
            return ""
        shown = [f"{key} ({host + ', ' if host else ''}{_age(age)})" for age, key, host in slow[:SLOW_SHOWN]]
        more = f", +{len(slow) - SLOW_SHOWN} more" if len(slow) > SLOW_SHOWN else ""
        return f"; in flight over {_age(self.slow_after)}: {', '.join(shown)}{more}"

    def finish(self) -> None:
        self.stop()
        log.info(self.line())
