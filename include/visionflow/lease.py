"""One writer per shard: a lease in the output root, taken before a shard's first item, checked again
before its manifest and stats are written, released when the shard ends.

A lost worker's shard can be run twice at once (the process of a killed worker that lives on, the retry on
another worker); both would fetch every item, and the slower one would overwrite the manifest with rows that
describe the other's outputs. The lease makes the second one stop with one line naming the holder.

* **Local disk**: ``<manifests>/shard-NNNNN.lease`` locked with ``flock``. The kernel drops the lock when
  its process dies, SIGKILL included, so a dead holder's lease is taken over at once; the file holds the
  holder (host, pid, start) for the message. Over NFS the lock is the server's (NFSv4 leases).
* **S3**: the same key, created with a conditional PUT (``If-None-Match: *``) and renewed every
  ``heartbeat`` seconds with ``If-Match`` on its own ETag, so a renewal fails once someone else holds it.
  A holder is dead when it is on this host and its process is gone, or when its lease was not renewed for
  ``timeout`` seconds by the S3 server's clock (``Date`` minus ``Last-Modified``: no clock skew between
  workers); taking over is another ``If-Match`` PUT, which only one contender wins.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from include.visionflow import settings
from include.visionflow.errors import ShardBusyError, StorageError
from include.visionflow.storage import S3Storage, Storage, host_name, process_alive, process_start

log = logging.getLogger(__name__)
_active: set[str] = set()  # tokens of the leases this process holds now


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: enough to tell a live process from a dead one, and to name it in a message."""

    host: str
    pid: int
    start: str  # the process's start time in ticks since boot: a reused pid is another process
    since: str  # ISO time the lease was taken
    token: str

    @classmethod
    def me(cls) -> "Holder":
        pid = os.getpid()
        return cls(host_name(), pid, process_start(pid), datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   uuid.uuid4().hex)

    @classmethod
    def parse(cls, data: bytes) -> "Holder | None":
        try:
            fields = json.loads(data)
            return cls(str(fields["host"]), int(fields["pid"]), str(fields.get("start", "")),
                       str(fields.get("since", "")), str(fields.get("token", "")))
        except (ValueError, KeyError, TypeError):
            return None  # empty (being written) or not ours

    def encode(self, **extra) -> bytes:
        return json.dumps({**asdict(self), **extra}).encode()

    def describe(self) -> str:
        return f"{self.host} pid {self.pid} since {self.since or 'an unknown time'}"

    def dead_here(self) -> bool:
        """A holder of this host whose process is gone, or this process's own lease no call holds any more
        (a failed release before an in-process retry)."""
        if self.host != host_name():
            return False
        if self.pid == os.getpid() and self.start == process_start(self.pid):
            return self.token not in _active
        return not process_alive(self.pid, self.start)


def busy(what: str, uri: str, holder: Holder | None) -> ShardBusyError:
    who = holder.describe() if holder else "a process that is still writing its name"
    return ShardBusyError(f"{what}: another process is writing this shard (lease {uri} held by {who}); "
                          "stopping so that it stays the only writer: Airflow retries this task later")


class Lease:
    """Held by one process for one shard; :meth:`check` raises :class:`ShardBusyError` once it is lost."""

    def __init__(self, what: str, uri: str):
        self.what, self.uri, self.holder = what, uri, Holder.me()

    @property
    def lost(self) -> bool:
        """Known to be someone else's now (without asking the storage)."""
        return False

    def acquire(self) -> "Lease":
        raise NotImplementedError

    def check(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Lease":
        _active.add(self.holder.token)  # before the lease exists: Holder.dead_here must never see it inactive
        try:
            self.acquire()
        except BaseException:
            _active.discard(self.holder.token)
            raise
        return self

    def __exit__(self, *exc) -> None:
        _active.discard(self.holder.token)
        with contextlib.suppress(Exception):  # a lease that cannot be released goes stale and is taken over
            self.release()


class LocalLease(Lease):
    def __init__(self, path: Path, what: str):
        super().__init__(what, str(path))
        self.path, self.fd = path, -1

    def acquire(self) -> "LocalLease":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                held = Holder.parse(os.pread(fd, 4096, 0))
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EACCES):
                    raise busy(self.what, self.uri, held) from None
                raise
            # The holder before us may have unlinked the file between our open and our lock: then we hold a
            # lock on a name nobody else sees, and must lock the file that is there now.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            left = Holder.parse(os.pread(fd, 4096, 0))
            if left is not None:
                log.info("%s: took over the lease of %s, which died holding it (%s)", self.what, left.describe(),
                         self.uri)
            os.ftruncate(fd, 0)
            os.pwrite(fd, self.holder.encode(), 0)
            self.fd = fd
            return self
        raise StorageError(f"{self.what}: could not lock {self.uri}: it was replaced five times in a row")

    def check(self) -> None:
        try:
            ours = self.fd >= 0 and os.fstat(self.fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            ours = False
        if not ours:
            raise busy(self.what, self.uri, Holder.parse(self.path.read_bytes()) if self.path.exists() else None)

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(self.fd).st_ino == os.stat(self.path).st_ino:
                self.path.unlink()  # while locked: a newcomer then locks a new file, never our unlinked one
        os.close(self.fd)
        self.fd = -1


class S3Lease(Lease):
    def __init__(self, storage: S3Storage, rel: str, what: str, timeout: float, heartbeat: float):
        super().__init__(what, storage.uri(rel))
        self.client, self.bucket, self.key = storage.client, storage.bucket, storage._key(rel)
        self.timeout, self.heartbeat = timeout, heartbeat
        self.etag = ""
        self.taker: Holder | None | bool = False  # False while ours; once lost, who holds it (None: nobody)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        return self.taker is not False

    def _put(self, **condition) -> str:
        body = self.holder.encode(renewed=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body, ContentType="application/json",
                                      **condition)["ETag"]

    def _read(self) -> tuple[Holder | None, str, float] | None:
        """The lease there now: (holder, ETag, seconds since its last renewal by the server's clock)."""
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as err:
            if _code(err) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        body = obj["Body"].read()
        date = obj["ResponseMetadata"].get("HTTPHeaders", {}).get("date")
        now = parsedate_to_datetime(date) if date else datetime.now(timezone.utc)
        return Holder.parse(body), obj["ETag"], (now - obj["LastModified"]).total_seconds()

    def acquire(self) -> "S3Lease":
        from botocore.exceptions import ClientError

        for _ in range(5):
            try:
                self.etag = self._put(IfNoneMatch="*")
                break
            except ClientError as err:
                if not _conflict(err):
                    raise
            there = self._read()
            if there is None:
                continue  # released in between: try to create it again
            held, etag, age = there
            if held is not None and not held.dead_here() and age < self.timeout:
                raise busy(self.what, self.uri, held)
            try:
                self.etag = self._put(IfMatch=etag)
            except ClientError as err:
                if _conflict(err) or _code(err) in ("NoSuchKey", "404"):
                    continue  # another process took it over first, or it was released: look again
                raise
            why = "its process is gone" if held is not None and held.dead_here() else f"not renewed for {age:.0f} s"
            log.info("%s: took over the lease of %s (%s): %s", self.what,
                     held.describe() if held else "an unreadable holder", why, self.uri)
            break
        else:
            raise StorageError(f"{self.what}: could not take the lease {self.uri}: it changed five times in a row")
        self._beat = threading.Thread(target=self._renew_every, name="vf-lease", daemon=True)
        self._beat.start()
        return self

    def _renew(self) -> bool:
        from botocore.exceptions import ClientError

        with self._lock:
            if self.taker is not False:
                return False
            try:
                self.etag = self._put(IfMatch=self.etag)
                return True
            except ClientError as err:
                if not (_conflict(err) or _code(err) in ("NoSuchKey", "404")):
                    raise
                there = self._read()
                self.taker = there[0] if there else None
                return False

    def _renew_every(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                if not self._renew():
                    log.warning("%s: lost the lease %s; the shard stops before writing its manifest", self.what,
                                self.uri)
                    return
            except Exception as err:  # S3 unreachable for a moment: the next beat tries again
                log.warning("%s: could not renew the lease %s: %s", self.what, self.uri, err)

    def check(self) -> None:
        """Renew now: a renewal that succeeds leaves ``timeout`` seconds in which nobody can take over."""
        if not self._renew():
            raise busy(self.what, self.uri, self.taker if isinstance(self.taker, Holder) else None)

    def release(self) -> None:
        from botocore.exceptions import ClientError

        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self._lock:
            if self.taker is not False or not self.etag:
                return
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
            except ClientError as err:
                if not (_conflict(err) or _code(err) in ("NoSuchKey", "404")):
                    raise


def _code(err) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _conflict(err) -> bool:
    """A condition that did not hold (412), or a concurrent conditional write on the same key (409)."""
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status in (409, 412) or _code(err) in ("PreconditionFailed", "ConditionalRequestConflict")


def shard_lease(storage: Storage, rel: str, what: str) -> Lease:
    """The lease of one shard (one stage of it) at ``rel``; use it as a context manager."""
    if storage.is_local:
        return LocalLease(storage.local_path(rel), what)  # type: ignore[attr-defined]
    if isinstance(storage, S3Storage):
        timeout = settings.lease_timeout()
        return S3Lease(storage, rel, what, timeout=timeout, heartbeat=max(1.0, timeout / 4))
    raise StorageError(f"{what}: no shard lease for a {type(storage).__name__} root")
