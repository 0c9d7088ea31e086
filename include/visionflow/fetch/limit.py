"""Rate and concurrency limits: per process (threads of one worker), shared by the processes of one machine
(a lock file), or shared by every worker of a cluster (Redis), for a budget such as an API key's requests
per hour."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path


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


# GCRA (generic cell rate algorithm) in one atomic step on the Redis server's clock: the key holds the
# theoretical arrival time (TAT, ms) of the next request; a request may go when TAT - now stays within the
# burst. Returns 0 when the request may go, else the ms to wait. One key per budget, whatever the number of
# processes or hosts sharing it.
_GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - interval * burst
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return '0'
"""


class SharedRateLimiter:
    """``RateLimiter`` whose budget is shared by every process that uses the same Redis key: at most
    ``per_hour`` acquisitions per hour in total, ``burst`` at once, across workers and hosts.

    ``name`` identifies the budget (e.g. a hash of the API key, never the key itself)."""

    def __init__(self, redis_url: str, name: str, per_hour: float, burst: int = 1):
        import redis

        if per_hour <= 0:
            raise ValueError(f"requests per hour must be positive, got {per_hour}")
        self.key = f"visionflow:rate:{name}"
        self.interval_ms = 3600_000.0 / per_hour
        self.burst = max(1, burst)
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=10)
        self._script = self._redis.register_script(_GCRA)

    def __repr__(self) -> str:  # the URL may hold a password
        return f"SharedRateLimiter(key={self.key!r}, interval_ms={self.interval_ms:.1f}, burst={self.burst})"

    def acquire(self) -> float:
        """Block until a request may go out; returns the seconds waited."""
        waited = 0.0
        while True:
            wait_ms = float(self._script(keys=[self.key], args=[self.interval_ms, self.burst]))
            if wait_ms <= 0:
                return waited
            time.sleep(wait_ms / 1000)
            waited += wait_ms / 1000


def budget_name(*parts: str) -> str:
    """A stable, non-secret name for a budget keyed by secrets (an API key): a hash prefix."""
    import hashlib

    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


class FileRateLimiter:
    """``SharedRateLimiter`` for the processes of one machine (LocalExecutor) without Redis: the same GCRA,
    its arrival time kept in a small file under an exclusive ``flock``."""

    def __init__(self, path: str | Path, per_hour: float, burst: int = 1):
        if per_hour <= 0:
            raise ValueError(f"requests per hour must be positive, got {per_hour}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.interval = 3600.0 / per_hour
        self.burst = max(1, burst)

    def _try(self) -> float:
        import fcntl

        with open(self.path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            now = time.time()
            try:
                tat = max(float(fh.read() or 0), now)
            except ValueError:  # a torn write from a killed process: start afresh
                tat = now
            wait = tat + self.interval - now - self.interval * self.burst
            if wait <= 0:
                fh.seek(0)
                fh.truncate()
                fh.write(repr(tat + self.interval))
                fh.flush()
            return max(0.0, wait)

    def acquire(self) -> float:
        waited = 0.0
        while True:
            wait = self._try()
            if wait <= 0:
                return waited
            time.sleep(wait)
            waited += wait
