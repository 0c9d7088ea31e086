"""Output roots: a local directory or ``s3://bucket/prefix``, behind one small interface.

Every write is atomic: a local file is written under ``<root>/.tmp/`` (same filesystem) and renamed into
place; an S3 object appears only when its PUT completes. A reader never sees half an output.

Temp files live in one folder per process, ``.tmp/<host>-<pid>-<start>/``. A process removes its own
folder, and ``.tmp`` when that leaves it empty, with :func:`release_staging`: when a task ends (the operator
base calls it, before Airflow hears the task succeeded) and when the process exits. A process killed
mid-write leaves its folder behind; the next process that stages under the same root removes the folders of
dead processes of its host (the pid is gone, or reused by a process that started later), and folders of
other hosts once nothing in them changed for ``STALE_AFTER`` seconds. A running task's files are never
touched, and folders are only ever removed with ``rmdir`` or when their process is dead.
"""
from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from include.visionflow.errors import BadInputError, StorageError

TMP_DIR = ".tmp"
FILE_MODE = 0o644
STALE_AFTER = 24 * 3600.0

log = logging.getLogger(__name__)
_swept: set[str] = set()
_sweep_lock = threading.Lock()
_staged: dict[int, set[Path]] = {}  # pid -> the .tmp roots it staged under since its last release
_exit_hooks: set[int] = set()


def process_start(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot ('' where /proc does not tell); with the pid it
    names a process uniquely, so a reused pid is not mistaken for the process that made a folder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def host_name() -> str:
    return socket.gethostname().replace("-", "_") or "host"


_tags: dict[int, str] = {}


def process_tag() -> str:
    pid = os.getpid()  # per pid, not once: forked task processes get their own folder
    if pid not in _tags:
        _tags[pid] = f"{host_name()}-{pid}-{process_start(pid)}"
    return _tags[pid]


def process_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's live process
    return not start or process_start(pid) in ("", start)


def _newest_change(path: Path) -> float:
    newest = path.lstat().st_mtime
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
    return newest


def sweep_orphans(tmp_root: Path) -> list[str]:
    """Remove what dead processes left under ``tmp_root``; returns the names removed. Every process leaves its
    (empty) folder when it exits, so only folders still holding files, which a kill mid-write leaves, are
    worth a line in the log."""
    removed, with_files = [], 0
    host, mine = host_name(), process_tag()
    for entry in sorted(tmp_root.iterdir()) if tmp_root.is_dir() else []:
        parts = entry.name.split("-")
        try:
            if entry.name == mine:
                continue
            if len(parts) == 3 and parts[0] == host and parts[1].isdigit():
                orphan = not process_alive(int(parts[1]), parts[2])
            else:  # another host's folder, or a file from before per-process folders
                orphan = time.time() - _newest_change(entry) > STALE_AFTER
            if orphan:
                if entry.is_dir() and not entry.is_symlink():
                    with_files += any(entry.iterdir())
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                    with_files += 1
                removed.append(entry.name)
        except OSError:
            continue  # another sweeper got there first
    if with_files:
        log.info("removed the half-written files of %s killed process(es) under %s", with_files, tmp_root)
    return removed


def process_staging(tmp_root: Path) -> Path:
    """This process's temp folder under ``tmp_root``; sweeps orphans once per process and root."""
    tmp_root.mkdir(parents=True, exist_ok=True)
    key = f"{os.getpid()}:{tmp_root}"
    if key not in _swept:
        with _sweep_lock:
            if key not in _swept:
                sweep_orphans(tmp_root)
                _swept.add(key)
    pid = os.getpid()
    if tmp_root not in _staged.get(pid, ()):
        with _sweep_lock:
            _staged.setdefault(pid, set()).add(tmp_root)
            if pid not in _exit_hooks:  # per pid: Airflow's forked task runner runs only hooks added after fork
                _exit_hooks.add(pid)
                atexit.register(release_staging)
    path = tmp_root / process_tag()
    # parents: another process may have just removed an empty .tmp (release_staging) after our mkdir above
    path.mkdir(parents=True, exist_ok=True)
    return path


def release_staging() -> None:
    """Remove this process's staging folders that are empty, then each ``.tmp`` left empty: what a task
    calls when it ends and every process at exit, so a finished run leaves no temp folder. Call it only
    when no thread of the process still stages (a later staging just makes the folder again)."""
    with _sweep_lock:
        roots = _staged.pop(os.getpid(), set())
    for tmp_root in roots:
        for folder in (tmp_root / process_tag(), tmp_root):
            with contextlib.suppress(OSError):  # not empty (another process's folder, a file), or gone
                folder.rmdir()


def tidy_staging_root(tmp_root: Path, settle: float = 10.0) -> None:
    """The end of a run: ``tmp_root`` without dead processes' folders, this process's empty one, and other
    hosts' empty ones untouched for ``settle`` s; then without itself when empty. A live process of this
    host keeps its folder (its pid tells); one of another host that lost its empty folder makes it again."""
    if not tmp_root.is_dir():
        return
    sweep_orphans(tmp_root)
    host, mine, now = host_name(), process_tag(), time.time()
    for folder in sorted(tmp_root.iterdir()):
        with contextlib.suppress(OSError):
            if folder.name == mine or (folder.name.split("-")[0] != host
                                       and now - folder.lstat().st_mtime > settle):
                folder.rmdir()
    with contextlib.suppress(OSError):
        tmp_root.rmdir()


@dataclass(frozen=True)
class S3Options:
    """How to reach S3; empty fields fall back to boto3's own chain (env, config files)."""

    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    unsigned: bool = False
    session_token: str | None = None
    # A ready boto3 Session (e.g. from Airflow's Amazon provider, which handles role assumption and
    # refreshes); when set, its credentials are used instead of the keys above.
    session: object | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # keep credentials out of logs and tracebacks
        return f"S3Options(endpoint_url={self.endpoint_url!r}, region={self.region!r}, unsigned={self.unsigned})"

    def client(self):
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        from include.visionflow import logmask

        logmask.install()  # botocore logs signed headers at DEBUG
        logmask.register_secrets(self.secret_key)

        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        if self.unsigned:
            config = config.merge(Config(signature_version=UNSIGNED))
        if self.session is not None:
            return self.session.client("s3", endpoint_url=self.endpoint_url,  # type: ignore[attr-defined]
                                       region_name=self.region or None, config=config)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.session_token,
            region_name=self.region or "us-east-1",
            config=config,
        )


class Storage:
    """Relative keys (``a/b.jpg``) under one root."""

    root: str
    is_local: bool = False

    def uri(self, rel: str) -> str:
        raise NotImplementedError

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def size(self, rel: str) -> int | None:
        raise NotImplementedError

    def read_bytes(self, rel: str) -> bytes:
        raise NotImplementedError

    def write_bytes(self, rel: str, data: bytes) -> None:
        raise NotImplementedError

    def put_file(self, rel: str, local_path: str | Path) -> None:
        """Move a complete local file to ``rel`` (the local file is consumed)."""
        raise NotImplementedError

    def fetch_file(self, rel: str, local_path: str | Path) -> None:
        """Copy ``rel`` to a local file."""
        raise NotImplementedError

    def list(self, prefix: str = "") -> Iterator[str]:
        raise NotImplementedError

    def delete(self, rel: str) -> None:
        raise NotImplementedError

    def staging_dir(self) -> Path:
        """A local directory for temp files that will end up in this storage."""
        raise NotImplementedError

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode("utf-8"))

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8")

    @contextlib.contextmanager
    def open_write(self, rel: str) -> Iterator[IO[bytes]]:
        """Write a file in a streaming way; it appears at ``rel`` only if the block succeeds."""
        fd, tmp = tempfile.mkstemp(dir=self.staging_dir(), suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
            self.put_file(rel, tmp)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @contextlib.contextmanager
    def local_copy(self, rel: str) -> Iterator[Path]:
        """A local path holding ``rel``'s content (the file itself when local)."""
        if self.is_local:
            yield Path(self.uri(rel))
            return
        fd, tmp = tempfile.mkstemp(dir=self.staging_dir(), suffix=Path(rel).suffix)
        os.close(fd)
        try:
            self.fetch_file(rel, tmp)
            yield Path(tmp)
        finally:
            os.unlink(tmp)


_NOT_WRITABLE = {errno.ENOTDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS}


class LocalStorage(Storage):
    is_local = True

    def __init__(self, root: str | Path):
        self.root = str(Path(root).expanduser().absolute())
        self._resolved_root = Path(self.root).resolve()  # once: _path runs for every item

    def _path(self, rel: str) -> Path:
        path = Path(self.root, rel)
        # Keys come from metadata; none may escape the root (e.g. "../../etc").
        if not path.resolve().is_relative_to(self._resolved_root):
            raise BadInputError(f"output key {rel!r} escapes the output root {self.root}")
        return path

    def uri(self, rel: str) -> str:
        return str(self._path(rel))

    def local_path(self, rel: str) -> Path:
        return self._path(rel)

    def exists(self, rel: str) -> bool:
        return self._path(rel).exists()

    def size(self, rel: str) -> int | None:
        try:
            return self._path(rel).stat().st_size
        except FileNotFoundError:
            return None

    def read_bytes(self, rel: str) -> bytes:
        return self._path(rel).read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.open_write(rel) as fh:  # the temp file is removed when the key is refused or the write fails
            fh.write(data)

    def put_file(self, rel: str, local_path: str | Path) -> None:
        dest = self._path(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Temp files from mkstemp are 0600; outputs are data for other users and tools to read.
        os.chmod(local_path, FILE_MODE)
        try:
            os.replace(local_path, dest)
        except OSError:  # another filesystem: copy next to the target, then rename
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, dest)
            os.unlink(local_path)

    def fetch_file(self, rel: str, local_path: str | Path) -> None:
        shutil.copyfile(self._path(rel), local_path)

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix else Path(self.root)
        if not base.exists():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != TMP_DIR)
            for name in sorted(filenames):
                yield os.path.relpath(os.path.join(dirpath, name), self.root)

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(rel).unlink()

    def staging_dir(self) -> Path:
        try:
            return process_staging(Path(self.root, TMP_DIR))
        except OSError as err:
            # Every local write is staged here first, so this is where an output root that cannot hold files
            # shows: the user's input, which no retry of the task would mend.
            if err.errno in _NOT_WRITABLE:
                raise BadInputError(f"output root {self.root} is not a writable folder ({err.strerror}: "
                                    f"{err.filename}); choose a folder you can write to") from None
            raise


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str, options: S3Options | None = None):
        # S3 keys are literal: "a/../b" is not "b" but a key with ".." in it, beside the root the user meant.
        if any(part in (".", "..") for part in prefix.split("/")):
            raise BadInputError(f"output root s3://{bucket}/{prefix} has a '.' or '..' in its prefix; S3 does not "
                                "resolve them: name the prefix without them")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.options = options or S3Options()
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = self.options.client()
        return self._client

    def _key(self, rel: str) -> str:
        rel = rel.lstrip("/")
        if ".." in rel.split("/"):
            raise BadInputError(f"output key {rel!r} escapes the output root {self.root}")
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def uri(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self._key(rel)}"

    def _head(self, rel: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(rel))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"cannot read {self.uri(rel)}: {err}") from err

    def exists(self, rel: str) -> bool:
        return self._head(rel) is not None

    def size(self, rel: str) -> int | None:
        head = self._head(rel)
        return None if head is None else int(head["ContentLength"])

    def read_bytes(self, rel: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(rel))["Body"].read()

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data)

    def put_file(self, rel: str, local_path: str | Path) -> None:
        self.client.upload_file(str(local_path), self.bucket, self._key(rel))
        os.unlink(local_path)

    def fetch_file(self, rel: str, local_path: str | Path) -> None:
        self.client.download_file(self.bucket, self._key(rel), str(local_path))

    def list(self, prefix: str = "") -> Iterator[str]:
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]

    def delete(self, rel: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(rel))

    def staging_dir(self) -> Path:
        return process_staging(Path(tempfile.gettempdir(), "visionflow-staging"))


def open_storage(root: str, s3: S3Options | None = None) -> Storage:
    """``root`` is a local path or ``s3://bucket[/prefix]``."""
    if not root:
        raise BadInputError("output root is empty: give a local path or s3://bucket/prefix")
    if root.startswith("s3://"):
        bucket, _, prefix = root[5:].partition("/")
        if not bucket:
            raise BadInputError(f"output root {root!r} has no bucket: use s3://bucket/prefix")
        return S3Storage(bucket, prefix, s3)
    if "://" in root:
        raise BadInputError(f"output root {root!r}: only local paths and s3:// are supported")
    return LocalStorage(root)
