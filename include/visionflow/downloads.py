"""Large files (dataset archives, annotation files): resumable downloads checked against a checksum registry.

A download streams into ``<dest>.part`` next to its destination; when it is cut, the next attempt (or the
next task try) asks for the rest with an HTTP ``Range`` and appends, and starts over when the server does
not honour ranges. The complete file is checked against ``checksums.json`` (kept in the repo: md5 and/or
sha256 per known file name, from the publishers) before it is renamed into place. A file the registry does
not know is accepted with a warning; a mismatch is a :class:`BadInputError` naming the file and both sums.
Inputs may also be local paths inside the allowed input folders (:mod:`include.visionflow.inputs`): they
are checked the same way and used where they are.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from include.visionflow.errors import BadInputError, FetchError
from include.visionflow.inputs import local_input

log = logging.getLogger(__name__)

REGISTRY = Path(__file__).with_name("checksums.json")
MAX_ARCHIVE_BYTES = 64 << 30  # COCO train2014.zip is 13 GB
ATTEMPTS = 6
CHUNK = 1 << 20
PROGRESS_EVERY = 20.0  # seconds between progress lines


@lru_cache(maxsize=4)
def load_registry(path: str | Path = REGISTRY) -> dict[str, dict[str, str]]:
    """``{file name: {"md5": hex, "sha256": hex, "source": url}}``."""
    data = json.loads(Path(path).read_text())
    return {name: entry for name, entry in data.items() if not name.startswith("_")}


def digest(path: str | Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, name: str | None = None, registry: dict | None = None) -> bool:
    """True when the registry knows ``name`` (default: the file's name) and every sum it lists matches;
    False, with a warning, when it does not know it; BadInputError on a mismatch."""
    path = Path(path)
    name = name or path.name
    entry = (load_registry() if registry is None else registry).get(name)
    if entry is None:
        log.warning("%s is not in the checksum registry (%s); accepted without verification", name, REGISTRY.name)
        return False
    for algorithm in ("sha256", "md5"):
        expected = entry.get(algorithm)
        if expected:
            got = digest(path, algorithm)
            if got != expected.lower():
                raise BadInputError(f"{name}: {algorithm} is {got} but the checksum registry expects {expected}; "
                                    f"the file at {path} is corrupt or not the published one")
    log.info("%s matches the checksum registry", name)
    return True


def file_name(source: str) -> str:
    """The file name a URL or path ends with (``.../train2014.zip?x=1`` -> ``train2014.zip``)."""
    name = unquote(urlsplit(source).path if "://" in source else source).rstrip("/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or name.startswith("."):
        raise BadInputError(f"{source!r} does not end with a file name; give the URL or path of the file")
    return name


def archive_fetcher():
    from include.visionflow.fetch.http import FetchConfig, Fetcher

    return Fetcher(FetchConfig(max_bytes=MAX_ARCHIVE_BYTES, read_timeout=120.0, per_host=4))


def _append_rest(fetcher, url: str, part: Path) -> None:
    """One attempt: ask for the bytes after what ``part`` holds and append them (or restart on a 200)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    try:
        resp = fetcher._open(url, None, headers, None)
    except FetchError as err:
        if err.status_code == 416 and have:  # nothing after what we have: the part is the whole file
            return
        raise
    try:
        resumed = have and resp.status_code == 206
        if have and not resumed:
            log.info("%s ignored the range request; downloading it again from the start", url)
        total = resp.headers.get("Content-Length", "?")
        done, next_log = 0, time.monotonic() + PROGRESS_EVERY
        with open(part, "ab" if resumed else "wb") as out:
            for chunk in fetcher._chunks(resp):
                out.write(chunk)
                done += len(chunk)
                if time.monotonic() >= next_log:
                    log.info("%s: %.1f of %s MB", part.name.removesuffix(".part"), done / 1e6,
                             f"{int(total) / 1e6:.1f}" if total.isdigit() else "?")
                    next_log = time.monotonic() + PROGRESS_EVERY
    finally:
        resp.close()


def download(url: str, dest: Path, fetcher=None, registry: dict | None = None) -> Path:
    """``dest`` complete and verified, fetched (resuming a previous ``.part``) unless already there."""
    if dest.exists():
        verify(dest, registry=registry)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    fetcher = fetcher or archive_fetcher()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _append_rest(fetcher, url, part)
            break
        except FetchError as err:
            if err.reason not in ("truncated", "timeout", "connection", "retries_exhausted") or attempt == ATTEMPTS:
                raise BadInputError(f"cannot download {url}: {err}; {part.stat().st_size if part.exists() else 0} "
                                    "bytes kept, a rerun resumes") from None
            log.warning("%s cut after %s bytes (%s); resuming", url, part.stat().st_size if part.exists() else 0,
                        err.reason)
    try:
        verify(part, dest.name, registry)
    except BadInputError:
        part.unlink()  # resuming a wrong file would never fix it
        raise
    os.replace(part, dest)
    log.info("downloaded %s (%s bytes) to %s", url, dest.stat().st_size, dest)
    return dest


def obtain(source: str, folder: Path, fetcher=None, registry: dict | None = None, what: str = "file") -> Path:
    """A URL downloaded into ``folder`` (or a local path used in place), verified against the registry."""
    if not source:
        raise BadInputError(f"no {what} given")
    if "://" not in source:
        path = local_input(source, what)  # only from the allowed input folders
        if not path.is_file():
            raise BadInputError(f"{what} {source} is not a file; give a URL or an existing local path")
        verify(path, registry=registry)
        return path
    if urlsplit(source).scheme not in ("http", "https"):
        raise BadInputError(f"{what} {source!r}: only http(s) URLs or local paths are supported")
    return download(source, folder / file_name(source), fetcher, registry)
