"""Inputs given as "a URL or a local path": a single file, a folder (``.../`` on HTTP), or a zip/tar archive.

Upstream guides say "download X and unzip it under Y"; here the same sources are read in place: named files
are picked out of an archive or folder by their base name (``msrvtt_data/MSRVTT_data.json`` is found as
``MSRVTT_data.json``), and video archives are unpacked *flat*, one file per base name, so member paths never
become output paths. Archives of both kinds pass the member policy and expansion budget of
:mod:`include.visionflow.archives` like every other extraction (a ``..`` or absolute member, a device file, or
more bytes than the budget allows refuses the whole archive); a video whose base name cannot be a file name
(``" lead.mp4"``) is skipped and reported instead, so one odd member does not cost the other videos.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from include.visionflow.archives import CHUNK, READ_ERRORS, Budget, Member, Reader, find_members
from include.visionflow.errors import BadInputError, BadRowError, FetchError
from include.visionflow.inputs import local_input
from include.visionflow.paths import safe_component

log = logging.getLogger(__name__)

MAX_MEMBER_BYTES = 1 << 30  # one annotation file; a bigger member is refused as a bomb
MAX_VIDEO_BYTES = 64 << 30
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _fetcher():
    from include.visionflow.fetch.http import FetchConfig, Fetcher

    return Fetcher(FetchConfig(max_bytes=MAX_VIDEO_BYTES, read_timeout=120.0))


def download(url: str, dest: Path, what: str) -> Path:
    """``url`` to ``dest`` (kept: a rerun with the file there downloads nothing)."""
    if dest.exists():
        return dest
    try:
        size = _fetcher().download_to(url, dest)
    except FetchError as err:
        raise BadInputError(f"{what} {url} could not be downloaded ({err.reason}: {err.detail}); "
                            "check the URL or give a local path") from err
    log.info("downloaded %s (%s bytes) to %s", url, size, dest)
    return dest


def archive_kind(path: Path) -> str:
    """``zip`` or ``tar`` from the bytes, not the name (a ``videos_url`` may be saved or named anything);
    ``""`` for neither."""
    if zipfile.is_zipfile(path):
        return "zip"
    return "tar" if tarfile.is_tarfile(path) else ""


def _refused(err: Exception, archive: Path, label: str, fix: str) -> BadInputError:
    """One line: the archive as the user gave it (not the download's temporary path), why, and the fix."""
    why = str(err)
    why = why[len(str(archive)):].lstrip(": ") if why.startswith(str(archive)) else why
    return BadInputError(f"{label}: {why}; {fix}")


def named_files(source: str, names: tuple[str, ...], work: Path, what: str, required: bool = True) -> dict[str, bytes]:
    """The files called ``names`` from ``source`` (URL or path of a file, folder or archive), name -> bytes.

    A local path must lie in an allowed input folder (:mod:`inputs`). A missing name is bad input when
    ``required`` (the message lists what was found)."""
    source = str(source).strip()
    if not source:
        raise BadInputError(f"{what} is empty: give a URL or a local path")
    found: dict[str, bytes] = {}
    if is_url(source) and source.endswith("/"):
        fetcher = _fetcher()
        for name in names:
            try:
                found[name] = fetcher.fetch_bytes(source + name)
            except FetchError as err:
                log.warning("%s: %s%s not fetched (%s)", what, source, name, err.reason)
    else:
        path = download(source, work / safe_component(Path(urlsplit(source).path).name or "input"), what) \
            if is_url(source) else local_input(source, what)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                for name in sorted(filenames):
                    if name in names and name not in found:
                        found[name] = Path(dirpath, name).read_bytes()
        elif path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
            def wanted(member: str) -> str | None:
                return posixpath.basename(member) if posixpath.basename(member) in names else None

            try:
                found = find_members(path, wanted, MAX_MEMBER_BYTES)
            except BadInputError as err:
                raise _refused(err, path, f"{what} {source}",
                               f"fix the archive, or give a folder that holds {list(names)}") from None
        elif path.is_file():
            if path.name in names or len(names) == 1:
                found[names[0] if len(names) == 1 else path.name] = path.read_bytes()
        else:
            raise BadInputError(f"{what} {source!r} is neither a URL nor an existing file or folder")
    missing = [n for n in names if n not in found]
    if missing and required:
        raise BadInputError(f"{what} {source!r} lacks {missing}; found {sorted(found)}")
    return found


def load_json(source: str, work: Path, what: str):
    """One JSON document from a URL or a local path."""
    name = Path(urlsplit(source).path).name or "input.json"
    data = named_files(source, (name,), work, what)[name]
    try:
        return json.loads(data)
    except ValueError as err:
        raise BadInputError(f"{what} {source!r} is not JSON ({err})") from None


VIDEOS_FIX = "fix the archive, or unpack it yourself and give the folder as videos_dir"


@dataclass(frozen=True)
class Unpacked:
    """What :func:`unpack_videos` did: the videos of the archive (``written`` now, the rest already there)
    and the members it skipped, each ``{"member", "reason", "detail"}``."""

    videos: int
    written: int
    bad_members: tuple[dict, ...] = ()


def unpack_videos(archive: Path, dest: Path, suffixes: tuple[str, ...], budget: Budget = Budget(),
                  label: str = "") -> Unpacked:
    """Every video member of ``archive`` to ``dest/<base name>``, flat; files already there are kept.

    Two members with the same base name are an error (they would be the same video key). A refused archive
    (policy, budget, unreadable) raises one BadInputError starting with ``label`` and removes the files this
    call wrote."""
    label = label or archive.name
    kind = archive_kind(archive)
    if not kind:
        raise BadInputError(f"{label} is neither a zip nor a tar archive; give a .zip, .tar or .tar.gz of videos")
    dest.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    written: list[Path] = []
    bad: list[dict] = []
    try:
        with Reader(archive, budget, kind) as reader:
            for member, raw in reader.members():
                name = posixpath.basename(member.name)
                if member.kind != "file" or not name.lower().endswith(suffixes) or name.startswith("."):
                    continue
                try:
                    safe = safe_component(name, what="video file name")
                except BadRowError as err:
                    log.warning("%s: skipping member %r: %s", label, member.name, err.detail)
                    bad.append({"member": member.name, "reason": err.reason, "detail": err.detail})
                    continue
                if safe in seen:
                    raise BadInputError(f"holds two videos named {name}; AdaCLIP keys videos by name")
                seen.add(safe)
                target = dest / safe
                if target.exists() and target.stat().st_size == member.size:
                    continue
                if member.size > MAX_VIDEO_BYTES:
                    raise BadInputError(f"member {member.name!r} is larger than {MAX_VIDEO_BYTES} bytes")
                _write_member(reader, member, raw, target)
                written.append(target)
    except (BadInputError, *READ_ERRORS) as err:
        for path in written:  # a refused archive leaves none of its members behind
            path.unlink(missing_ok=True)
        if isinstance(err, BadInputError):
            raise _refused(err, archive, label, VIDEOS_FIX) from None
        raise BadInputError(f"{label} is not a readable archive ({err}); {VIDEOS_FIX}") from None
    log.info("unpacked %s videos from %s into %s (%s already there, %s members skipped)", len(written), label,
             dest, len(seen) - len(written), len(bad))
    return Unpacked(len(seen), len(written), tuple(bad))


def _write_member(reader: Reader, member: Member, raw: object, target: Path) -> None:
    """Through a temporary file renamed into place: a reader never sees half a video."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out, reader.open(raw) as src:
            while block := src.read(CHUNK):
                size += len(block)
                if size > member.size:  # the budget counted the declared size; hold the data to it
                    raise BadInputError(f"member {member.name!r} holds more than its declared {member.size} bytes")
                out.write(block)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
