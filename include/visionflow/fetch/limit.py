"""Rate and concurrency limits shared by the threads of one worker process."""
from __future__ import annotations

import threading
import time
from collections import defaultdict


class RateLimiter:
    """Token bucket: at most ``per_hour`` acquisitions per hour, ``burst`` at once."""

    def __init__(self, per_hour: float, burst: int = 1):
        if per_hour <= 0:
            raise ValueError(f"requests per hour must be positive, got {per_hour}")
        self.interval = 3600.0 / per_hour
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may go out; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                delay = (1 - self._tokens) * self.interval
            # Waiting is the point of a rate limiter.
            time.sleep(delay)
            waited += delay


class HostLimiter:
    """At most ``per_host`` requests in flight to any one host."""

    def __init__(self, per_host: int):
        self.per_host = per_host
        self._sems: dict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(self.per_host)
        )
        self._lock = threading.Lock()

    def slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._sems[host]
