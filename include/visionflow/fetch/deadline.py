"""A total time budget for one fetch: every connect, read, retry and backoff of one URL.

Per-read socket timeouts do not bound a fetch: a server sending one byte every few seconds never trips
them, and retries multiply them. A ``Deadline`` is entered around a fetch (thread-local, since one fetch
runs in one thread); the connections register their socket with it, and one watchdog thread shuts that
socket down when the budget is spent, which wakes the blocked read at once. Code between reads calls
``check()``. Expiry always surfaces as ``FetchError("timeout")``.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Iterator

from include.visionflow.errors import FetchError

_local = threading.local()


class Deadline:
    def __init__(self, seconds: float, what: str = ""):
        self.seconds = seconds
        self.what = what
        self.at = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.expired or self.remaining() <= 0:
            self.expired = True
            raise self.error()

    def error(self) -> FetchError:
        return FetchError("timeout", f"total deadline of {self.seconds:g} s passed for {self.what}")

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            self._shutdown()


def current() -> Deadline | None:
    return getattr(_local, "deadline", None)


@contextlib.contextmanager
def enter(seconds: float | None, what: str = "") -> Iterator[Deadline | None]:
    """Run the block under a deadline of ``seconds`` (None or <= 0: no deadline)."""
    if not seconds or seconds <= 0:
        yield None
        return
    deadline = Deadline(seconds, what)
    previous, _local.deadline = current(), deadline
    _watchdog.watch(deadline)
    try:
        yield deadline
    finally:
        with deadline._lock:
            deadline.finished = True
            deadline._sock = None
        _local.deadline = previous


class _Watchdog:
    """One daemon thread for every deadline of the process: a heap ordered by expiry time."""

    def __init__(self):
        self._heap: list[tuple[float, int, Deadline]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="vf-fetch-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                deadline = heapq.heappop(self._heap)[2]
            deadline.expire()


_watchdog = _Watchdog()
