"""Archives: tar(.gz) to zip with the same members, verified before the tarball is removed.

Upstream (PRIMO) extracted each 30 GB tarball to disk, zipped the folder and deleted the tarball even when
the zip step failed. Here members stream from the tar into the zip (no extraction, flat memory), then the
zip is re-read and every member's name, size and CRC-32 is compared with the tar's before the zip is renamed
into place; only then may the caller delete the tarball.
"""
from __future__ import annotations

import logging
import os
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from include.visionflow.errors import BadInputError

log = logging.getLogger(__name__)
CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipResult:
    zip_path: str
    members: int
    bytes: int


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, zf: zipfile.ZipFile) -> int:
    """Stream one regular file into the zip; returns its CRC-32. JPEGs do not compress: store them."""
    src = tar.extractfile(member)
    assert src is not None
    info = zipfile.ZipInfo(member.name, date_time=_zip_time(member.mtime))
    info.compress_type = zipfile.ZIP_STORED if member.name.lower().endswith((".jpg", ".jpeg", ".png")) \
        else zipfile.ZIP_DEFLATED
    info.external_attr = (member.mode & 0xFFFF) << 16
    crc = 0
    with zf.open(info, "w", force_zip64=member.size > 0x7FFFFFFF) as dst:
        while block := src.read(CHUNK):
            crc = zlib.crc32(block, crc)
            dst.write(block)
    return crc


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    import time

    t = time.gmtime(max(mtime, 315532800))  # zip cannot store dates before 1980
    return t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec


def tar_to_zip(tar_path: str | Path, zip_path: str | Path) -> ZipResult:
    """Convert ``tar_path`` to ``zip_path`` atomically; raises BadInputError if anything does not match."""
    tar_path, zip_path = Path(tar_path), Path(zip_path)
    expected: dict[str, tuple[int, int]] = {}
    fd, tmp = tempfile.mkstemp(dir=zip_path.parent, prefix=f".{zip_path.name}.", suffix=".part")
    os.close(fd)
    try:
        with tarfile.open(tar_path, "r:*") as tar, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for member in tar:
                if not _safe_member(member.name):
                    raise BadInputError(f"{tar_path}: member {member.name!r} would escape the archive root")
                if member.isdir():
                    continue
                if not member.isfile():
                    log.warning("%s: skipping non-file member %s", tar_path, member.name)
                    continue
                expected[member.name] = (member.size, _copy_member(tar, member, zf))
        _verify_zip(Path(tmp), expected, tar_path)
        os.replace(tmp, zip_path)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise BadInputError(f"{tar_path} is not a readable tarball ({err}); it was kept for inspection") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return ZipResult(str(zip_path), len(expected), sum(s for s, _ in expected.values()))


def _verify_zip(path: Path, expected: dict[str, tuple[int, int]], source: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        bad = zf.testzip()
        if bad is not None:
            raise BadInputError(f"zip made from {source} has a corrupt member {bad}")
        got = {i.filename: (i.file_size, i.CRC) for i in zf.infolist()}
    if got != expected:
        missing = sorted(set(expected) - set(got))[:5]
        raise BadInputError(f"zip made from {source} differs from the tarball (e.g. missing {missing})")
