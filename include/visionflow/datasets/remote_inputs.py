"""Inputs given as "a URL or a local path": a single file, a folder (``.../`` on HTTP), or a zip/tar archive.

Upstream guides say "download X and unzip it under Y"; here the same sources are read in place: named files
are picked out of an archive or folder by their base name (``msrvtt_data/MSRVTT_data.json`` is found as
``MSRVTT_data.json``), and video archives are unpacked *flat*, one file per base name, so member paths never
become output paths (no ``..``, absolute names or links can escape the target folder).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from include.visionflow.errors import BadInputError, FetchError
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


def _archive_members(path: Path) -> Iterator[tuple[str, int, object]]:
    """(base name, size, opener) of every regular file in a zip or tar archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield Path(info.filename).name, info.file_size, lambda info=info: zf.open(info)
        return
    try:
        tar = tarfile.open(path)
    except tarfile.TarError as err:
        raise BadInputError(f"{path.name} is neither a zip nor a tar archive ({err})") from None
    with tar:
        for member in tar:
            if member.isreg():
                yield Path(member.name).name, member.size, lambda member=member: tar.extractfile(member)


def _read_capped(fh, limit: int, name: str) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise BadInputError(f"archive member {name} is larger than {limit} bytes; refusing it")
    return data


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
            for name, size, opener in _archive_members(path):
                if name in names and name not in found:
                    if size > MAX_MEMBER_BYTES:
                        raise BadInputError(f"{what}: member {name} is larger than {MAX_MEMBER_BYTES} bytes")
                    with opener() as fh:
                        found[name] = _read_capped(fh, MAX_MEMBER_BYTES, name)
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


def unpack_videos(archive: Path, dest: Path, suffixes: tuple[str, ...]) -> int:
    """Every video member of ``archive`` to ``dest/<base name>``, flat; files already there are kept.

    Two members with the same base name are an error (they would be the same video key)."""
    dest.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    written = 0
    for name, size, opener in _archive_members(archive):
        if not name.lower().endswith(suffixes) or name.startswith("."):
            continue
        safe = safe_component(name, what="video file name")
        if safe in seen:
            raise BadInputError(f"{archive.name} holds two videos named {name}; AdaCLIP keys videos by name")
        seen.add(safe)
        target = dest / safe
        if target.exists() and target.stat().st_size == size:
            continue
        if size > MAX_VIDEO_BYTES:
            raise BadInputError(f"{archive.name}: member {name} is larger than {MAX_VIDEO_BYTES} bytes")
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{safe}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, opener() as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written += 1
    log.info("unpacked %s videos from %s into %s (%s already there)", written, archive.name, dest, len(seen) - written)
    return len(seen)
