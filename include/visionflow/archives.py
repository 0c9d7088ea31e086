"""Archives: one member policy for tar, tar.gz and zip, a tar-to-zip converter and a reader of named members.

Every member passes :func:`check_members` before a byte of it is used: its name is normalised (``./a.jpg``
and ``a.jpg`` are one name, the ``.`` entry of ``tar -C dir .`` is skipped) and refused when absolute, when
it has a ``..`` component or a control character, when it is a device file or a FIFO, when a link points
outside the archive root, when it repeats an earlier name, and when the members seen so far pass the
:class:`Budget` (count, bytes, expansion over the archive's size: a bomb). Each refusal is a
:class:`BadInputError` naming the archive and the member. Extraction to disk is in
:mod:`include.visionflow.extract`.

Upstream (PRIMO) extracted each 30 GB tarball to disk, zipped the folder and deleted the tarball even when
the zip step failed. Here members stream from the tar into the zip (no extraction, flat memory), then the
zip's central directory is compared with the tar's names, sizes and CRC-32s before the zip is renamed into
place; only then may the caller delete the tarball.
"""
from __future__ import annotations

import logging
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator

from include.visionflow.errors import BadInputError

log = logging.getLogger(__name__)
CHUNK = 1 << 20
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Budget:
    """What one archive may expand to. ``max_ratio`` bounds bytes out per byte in, past ``ratio_floor``
    bytes (small archives of text compress well and are harmless; a tgz of zeros is not)."""

    max_members: int = 1_000_000
    max_bytes: int = 256 << 30
    max_ratio: float = 50.0
    ratio_floor: int = 256 << 20

    def byte_limit(self, archive_size: int) -> int:
        return min(self.max_bytes, max(self.ratio_floor, int(self.max_ratio * archive_size)))


@dataclass(frozen=True)
class Member:
    """A member that passed the policy. ``kind`` is ``file``, ``dir``, ``symlink`` or ``hardlink``;
    ``link`` is the normalised target (a path from the archive root) for links."""

    name: str
    kind: str
    size: int
    link: str = ""
    mode: int = 0o644
    mtime: float = 0.0
    crc: int | None = None  # zip members carry it


def normalise(name: str, archive: str | Path) -> str:
    """The member's path from the archive root, or ``""`` for the root itself; refuses escaping names."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise BadInputError(f"{archive}: member {name!r} has an absolute path; refused")
    if _CONTROL.search(raw):
        raise BadInputError(f"{archive}: member {name!r} has a control character in its name; refused")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadInputError(f"{archive}: member {name!r} has a '..' component that would escape; refused")
    return "/".join(parts)


def _link_target(member_name: str, target: str, archive: str | Path, hard: bool) -> str:
    """A link's target as a path from the root; refused when it leaves the root (lexically)."""
    raw = target.replace("\\", "/")
    if raw.startswith("/"):
        raise BadInputError(f"{archive}: link {member_name!r} points at absolute path {target!r}; refused")
    joined = raw if hard else posixpath.join(posixpath.dirname(member_name), raw)
    resolved = posixpath.normpath(joined) if joined else "."
    if resolved == ".." or resolved.startswith("../"):
        raise BadInputError(f"{archive}: link {member_name!r} -> {target!r} points outside the target; refused")
    return "" if resolved == "." else resolved


def _tar_members(tar: tarfile.TarFile, archive: Path) -> Iterator[tuple[Member, tarfile.TarInfo]]:
    for info in tar:
        name = normalise(info.name, archive)
        if info.isdev() or info.isfifo():
            kind = "FIFO" if info.isfifo() else "device file"
            raise BadInputError(f"{archive}: member {info.name!r} is a {kind}; refused")
        if info.isdir():
            kind = "dir"
        elif info.issym() or info.islnk():
            kind = "symlink" if info.issym() else "hardlink"
        elif info.isreg():
            kind = "file"
        else:
            raise BadInputError(f"{archive}: member {info.name!r} has unsupported type {info.type!r}; refused")
        link = _link_target(name, info.linkname, archive, kind == "hardlink") if kind.endswith("link") else ""
        yield Member(name, kind, info.size if kind == "file" else 0, link, info.mode, info.mtime), info


def _zip_kind(info: zipfile.ZipInfo, archive: Path) -> str:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "dir"
    if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        raise BadInputError(f"{archive}: member {info.filename!r} is a device file or FIFO; refused")
    return "symlink" if mode and stat.S_ISLNK(mode) else "file"


def check_members(members: Iterator[tuple[Member, object]], archive: Path,
                  budget: Budget) -> Iterator[tuple[Member, object]]:
    """Yield members that pass the policy (the root entry is dropped); raise on the first that does not."""
    seen: dict[str, str] = {}
    count = total = 0
    limit = budget.byte_limit(archive.stat().st_size)
    for member, raw in members:
        if not member.name:
            continue
        count += 1
        total += member.size
        if count > budget.max_members:
            raise BadInputError(f"{archive}: member {member.name!r} is past the budget of "
                                f"{budget.max_members} members (a bomb?); refused")
        if total > limit:
            raise BadInputError(f"{archive}: member {member.name!r} takes the contents past {limit} bytes "
                                f"for a {archive.stat().st_size}-byte archive (a bomb?); refused")
        earlier = seen.get(member.name)
        if earlier is not None and not (earlier == "dir" == member.kind):
            raise BadInputError(f"{archive}: member {member.name!r} appears twice (duplicate names); refused")
        parent = posixpath.dirname(member.name)
        while parent:
            if seen.get(parent, "dir") != "dir":
                raise BadInputError(f"{archive}: member {member.name!r} lies under the non-folder {parent!r}; "
                                    "refused")
            parent = posixpath.dirname(parent)
        seen[member.name] = member.kind
        parent = posixpath.dirname(member.name)
        while parent and parent not in seen:  # implied folders: a later file of that name is a duplicate
            seen[parent] = "dir"
            parent = posixpath.dirname(parent)
        yield member, raw


@dataclass
class Reader:
    """An open archive: ``members()`` in archive order, ``open(raw)`` for a file member's bytes."""

    path: Path
    budget: Budget
    kind: str = ""  # "zip" or "tar" when the name does not say (a download saved under a fixed name)

    def __enter__(self) -> "Reader":
        name = self.path.name.lower()
        kind = self.kind or ("zip" if name.endswith(".zip") else "tar" if name.endswith(TAR_SUFFIXES) else "")
        try:
            if kind == "zip":
                self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self.path)
                self._tar: tarfile.TarFile | None = None
            elif kind == "tar":
                self._zip, self._tar = None, tarfile.open(self.path, "r:*")
            else:
                raise BadInputError(f"{self.path}: unknown archive type; expected .zip, .tar, .tar.gz or .tgz")
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
            raise BadInputError(f"{self.path} is not a readable archive ({err})") from None
        return self

    def __exit__(self, *exc) -> None:
        (self._zip or self._tar).close()  # type: ignore[union-attr]

    def members(self) -> Iterator[tuple[Member, object]]:
        if self._tar is not None:
            raw: Iterator[tuple[Member, object]] = _tar_members(self._tar, self.path)
        else:
            raw = ((self._zip_member(i), i) for i in self._zip.infolist())  # type: ignore[union-attr]
        return check_members(raw, self.path, self.budget)

    def _zip_member(self, info: zipfile.ZipInfo) -> Member:
        name = normalise(info.filename, self.path)
        kind = _zip_kind(info, self.path)
        link = ""
        if kind == "symlink":
            target = self._zip.read(info)[:4096].decode("utf-8", "replace")  # type: ignore[union-attr]
            link = _link_target(name, target, self.path, hard=False)
        return Member(name, kind, info.file_size if kind == "file" else 0, link, 0o644, 0.0, info.CRC)

    def open(self, raw: object) -> IO[bytes]:
        if self._tar is not None:
            stream = self._tar.extractfile(raw)  # type: ignore[arg-type]
            assert stream is not None
            return stream
        return self._zip.open(raw)  # type: ignore[union-attr,arg-type]


# RuntimeError: an encrypted zip member; NotImplementedError: a compression method zipfile lacks.
READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError,
               NotImplementedError)


def find_members(archive: str | Path, wanted: Callable[[str], str | None], max_bytes: int,
                 budget: Budget = Budget()) -> dict[str, bytes]:
    """Read the members ``wanted(name)`` maps to a key, in memory (nothing is written to disk). Two members
    for one key are an error naming both: a stray ``x/train.csv`` must not replace the real one."""
    archive = Path(archive)
    found: dict[str, bytes] = {}
    names: dict[str, str] = {}
    try:
        with Reader(archive, budget) as reader:
            for member, raw in reader.members():
                key = wanted(member.name) if member.kind == "file" else None
                if key is None:
                    continue
                if key in names:
                    raise BadInputError(f"{archive}: both {names[key]!r} and {member.name!r} could be {key}; "
                                        "keep one (the archive is ambiguous)")
                if member.size > max_bytes:
                    raise BadInputError(f"{archive}: member {member.name!r} is {member.size} bytes, over "
                                        f"the {max_bytes}-byte limit for it")
                names[key] = member.name
                with reader.open(raw) as fh:
                    found[key] = fh.read(max_bytes + 1)[:max_bytes]
    except READ_ERRORS as err:
        raise BadInputError(f"{archive} is not a readable archive ({err})") from None
    return found


# --- tar to zip -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipResult:
    zip_path: str
    members: int
    bytes: int


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    import time

    t = time.gmtime(max(mtime, 315532800))  # zip cannot store dates before 1980
    return t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec


def _copy_member(src: IO[bytes], member: Member, zf: zipfile.ZipFile) -> int:
    """Stream one regular file into the zip; returns its CRC-32. JPEGs do not compress: store them."""
    info = zipfile.ZipInfo(member.name, date_time=_zip_time(member.mtime))
    stored = member.size == 0 or member.name.lower().endswith((".jpg", ".jpeg", ".png"))
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | (member.mode & 0o777)) << 16
    if member.size == 0:  # the common case of a tarball of markers: no stream, no compressor
        zf.writestr(info, b"")
        return 0
    crc = 0
    with zf.open(info, "w", force_zip64=member.size > 0x7FFFFFFF) as dst:
        while block := src.read(CHUNK):
            crc = zlib.crc32(block, crc)
            dst.write(block)
    return crc


def tar_to_zip(tar_path: str | Path, zip_path: str | Path, budget: Budget = Budget()) -> ZipResult:
    """Convert ``tar_path`` to ``zip_path`` atomically; raises BadInputError if a member is refused or
    anything does not match. Links (inside the root) are skipped with a warning: a zip holds files."""
    tar_path, zip_path = Path(tar_path), Path(zip_path)
    expected: dict[str, tuple[int, int]] = {}
    fd, tmp = tempfile.mkstemp(dir=zip_path.parent, prefix=f".{zip_path.name}.", suffix=".part")
    os.close(fd)
    try:
        if not tar_path.name.lower().endswith(TAR_SUFFIXES):
            raise BadInputError(f"{tar_path} is not a tarball (.tar, .tar.gz, .tgz)")
        with Reader(tar_path, budget) as reader, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for member, raw in reader.members():
                if member.kind == "dir":
                    continue
                if member.kind != "file":  # inside the root (the policy refused the others)
                    log.warning("%s: skipping %s %s -> %s", tar_path, member.kind, member.name, member.link)
                    continue
                with reader.open(raw) as src:
                    expected[member.name] = (member.size, _copy_member(src, member, zf))
        _verify_zip(Path(tmp), expected, tar_path)
        os.replace(tmp, zip_path)
    except READ_ERRORS as err:
        raise BadInputError(f"{tar_path} is not a readable tarball ({err}); it was kept for inspection") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return ZipResult(str(zip_path), len(expected), sum(s for s, _ in expected.values()))


def _verify_zip(path: Path, expected: dict[str, tuple[int, int]], source: Path) -> None:
    """The written zip read back: every member once, with the tar's size and CRC-32; the data re-read
    checks the CRCs that were stored against the bytes that were written."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(names) != len(set(names)):
            raise BadInputError(f"zip made from {source} holds a member twice")
        for info in infos:
            if info.file_size:  # empty members have nothing to re-read (100k of them took 38 s)
                with zf.open(info) as fh:
                    try:
                        while fh.read(CHUNK):
                            pass
                    except zipfile.BadZipFile:
                        raise BadInputError(f"zip made from {source} has a corrupt member {info.filename}") \
                            from None
        got = {i.filename: (i.file_size, i.CRC) for i in infos}
    if got != expected:
        missing = sorted(set(expected) - set(got))[:5]
        raise BadInputError(f"zip made from {source} differs from the tarball (e.g. missing {missing})")
