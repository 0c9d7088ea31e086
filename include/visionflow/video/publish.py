"""Put a finished frame folder into storage so that it appears whole or not at all.

Local roots: the folder is written under the root's staging area (same filesystem) and renamed into place
in one step, so an existing folder is always complete. S3 has no folder rename: frames are uploaded, then a
``.done`` marker holding the frame count is written last; a folder without it is incomplete.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

DONE_MARKER = ".done"


@contextmanager
def staging_folder(storage: Storage) -> Iterator[Path]:
    """A fresh local folder to write frames into; removed afterwards unless it was published."""
    path = Path(tempfile.mkdtemp(dir=storage.staging_dir(), prefix="frames-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def published_count(storage: Storage, rel_dir: str) -> int | None:
    """Frame count of a complete folder at ``rel_dir``, or None when there is none."""
    if storage.is_local:
        path = Path(storage.uri(rel_dir))
        if not path.is_dir():
            return None
        return sum(1 for name in os.listdir(path) if not name.startswith("."))
    if not storage.exists(f"{rel_dir}/{DONE_MARKER}"):
        return None
    return int(storage.read_text(f"{rel_dir}/{DONE_MARKER}").strip() or 0)


def publish_folder(storage: Storage, local_dir: Path, rel_dir: str) -> int:
    """Move every file of ``local_dir`` to ``rel_dir`` atomically (see module doc); returns the file count."""
    names = sorted(os.listdir(local_dir))
    if storage.is_local:
        dest = Path(storage.uri(rel_dir))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():  # a stale folder (e.g. --refresh): move it aside first, then swap
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            shutil.rmtree(old, ignore_errors=True)
        os.chmod(local_dir, 0o755)  # mkdtemp made it private; the published folder is ordinary output
        os.replace(local_dir, dest)
        local_dir.mkdir()  # the staging context removes it again
    else:
        for name in names:
            storage.put_file(f"{rel_dir}/{name}", local_dir / name)
        storage.write_text(f"{rel_dir}/{DONE_MARKER}", str(len(names)))
    log.info("published %s files to %s", len(names), storage.uri(rel_dir))
    return len(names)


def video_is_done(storage: Storage, rel: str) -> bool:
    """An existing video output counts as done; a local one must also decode, since a folder may hold older
    copies made outside the pipeline (S3 outputs only ever appear complete, by our own atomic writes)."""
    from include.visionflow.errors import DecodeError
    from include.visionflow.video.probe import probe

    if not storage.exists(rel):
        return False
    if not storage.is_local:
        return True
    try:
        probe(storage.uri(rel))
    except DecodeError:
        log.warning("%s exists but does not decode; making it again", rel)
        return False
    return True
