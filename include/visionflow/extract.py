"""Safe, atomic extraction of tar, tar.gz and zip archives.

Members pass the policy of :mod:`include.visionflow.archives` (names, kinds, links, duplicates, budget)
before anything is written. They are written into a fresh temporary folder *under* the target
(``<parent>/.<name>.extract-<random>/``), files first with ``O_EXCL | O_NOFOLLOW`` and links last, so no
write ever goes through a link; each link is then resolved on disk and must stay inside the temporary
folder. Only a complete, checked tree is renamed to its destination: a reader sees all of it or nothing,
and a refused archive leaves nothing behind. Leftovers of a killed extraction are removed by the next one.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from include.visionflow.archives import READ_ERRORS, Budget, Member, Reader
from include.visionflow.errors import BadInputError

log = logging.getLogger(__name__)
CHUNK = 1 << 20
PROGRESS_EVERY = 20.0  # seconds between progress lines


@dataclass(frozen=True)
class Extracted:
    path: str
    files: int
    bytes: int
    reused: bool = False


def _write_file(reader: Reader, member: Member, raw: object, dest: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    written = 0
    with reader.open(raw) as src, os.fdopen(os.open(dest, flags, 0o644), "wb") as out:
        while block := src.read(CHUNK):
            written += len(block)
            if written > member.size:  # a header that under-declares its data
                raise BadInputError(f"{reader.path}: member {member.name!r} holds more than its declared "
                                    f"{member.size} bytes; refused")
            out.write(block)
    return written


def _link(tmp: Path, member: Member, reader: Reader) -> None:
    dest = tmp / member.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if member.kind == "hardlink":
        source = tmp / member.link
        if not source.is_file() or source.is_symlink():
            raise BadInputError(f"{reader.path}: hard link {member.name!r} -> {member.link!r} names no earlier "
                                "file; refused")
        shutil.copyfile(source, dest, follow_symlinks=False)  # a copy: no shared inode with anything
        return
    os.symlink(os.path.relpath(tmp / member.link, dest.parent), dest)
    resolved = Path(os.path.realpath(dest))
    if resolved != tmp.resolve() and tmp.resolve() not in resolved.parents:
        raise BadInputError(f"{reader.path}: link {member.name!r} resolves outside the target through "
                            "another link; refused")


def _unpack(archive: Path, tmp: Path, budget: Budget) -> tuple[int, int]:
    files = size = 0
    links: list[Member] = []
    next_log = time.monotonic() + PROGRESS_EVERY
    with Reader(archive, budget) as reader:
        for member, raw in reader.members():
            if time.monotonic() >= next_log:  # a 13 GB COCO zip takes minutes: say how far it is
                log.info("extracting %s: %s files, %.1f MB so far", archive.name, files, size / 1e6)
                next_log = time.monotonic() + PROGRESS_EVERY
            dest = tmp / member.name
            if member.kind == "dir":
                dest.mkdir(parents=True, exist_ok=True)
            elif member.kind == "file":
                dest.parent.mkdir(parents=True, exist_ok=True)
                size += _write_file(reader, member, raw, dest)
                files += 1
            else:
                links.append(member)
        for member in links:  # last: every file is written, so nothing is ever written through a link
            _link(tmp, member, reader)
    return files, size


def clean_leftovers(dest: Path) -> None:
    """Remove the temporary folders of extractions into ``dest`` that were killed."""
    for stale in dest.parent.glob(f".{dest.name}.extract-*"):
        log.warning("removing %s, left by an interrupted extraction", stale)
        shutil.rmtree(stale, ignore_errors=True)


def extract(archive: str | Path, dest: str | Path, budget: Budget = Budget(),
            pick: Callable[[Path], Path] | None = None) -> Extracted:
    """Extract ``archive`` so that ``dest`` appears complete or not at all; skipped when ``dest`` exists.

    ``pick(tmp_root)`` chooses the folder inside the archive that becomes ``dest`` (default: the whole
    archive); it raises BadInputError naming what it looked for when the archive lacks it."""
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        log.info("%s already extracted", dest)
        return Extracted(str(dest), 0, 0, reused=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(dest)
    tmp = dest.parent / f".{dest.name}.extract-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        try:
            files, size = _unpack(archive, tmp, budget)
        except READ_ERRORS as err:
            raise BadInputError(f"{archive} is not a readable archive ({err}); download it again") from None
        chosen = pick(tmp) if pick else tmp
        if chosen != tmp and tmp.resolve() not in chosen.resolve().parents:
            raise BadInputError(f"{archive}: the chosen folder {chosen} is not inside the archive")
        os.rename(chosen, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("extracted %s files (%s bytes) from %s to %s", files, size, archive.name, dest)
    return Extracted(str(dest), files, size)


def folder_holding(*names: str, what: str) -> Callable[[Path], Path]:
    """A ``pick`` for :func:`extract`: the shallowest folder (root first) that directly holds ``names``."""

    def pick(root: Path) -> Path:
        level = [root]
        for _ in range(4):
            for folder in sorted(level):
                if all((folder / n).exists() for n in names):
                    return folder
            level = [p for f in level for p in f.iterdir() if p.is_dir() and not p.is_symlink()]
        raise BadInputError(f"the archive holds no folder with {list(names)}; it is not {what}")

    return pick


def folder_named(name: str, what: str) -> Callable[[Path], Path]:
    """A ``pick``: the shallowest folder called ``name``."""

    def pick(root: Path) -> Path:
        level = [root]
        for _ in range(4):
            for folder in sorted(level):
                if (folder / name).is_dir():
                    return folder / name
            level = [p for f in level for p in f.iterdir() if p.is_dir() and not p.is_symlink()]
        raise BadInputError(f"the archive holds no folder {name!r}; it is not {what}")

    return pick
