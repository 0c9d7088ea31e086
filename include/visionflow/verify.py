"""Checksums: hex or base64 digests (OpenImages ``OriginalMD5`` is base64 of the binary MD5)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path

from include.visionflow.errors import BadInputError

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def normalize_md5(expected: str) -> str:
    """Return the lowercase hex form of an MD5 given as hex or base64; a clear error otherwise."""
    value = (expected or "").strip()
    if _HEX32.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise BadInputError(
            f"checksum {expected!r} is neither a 32-char hex MD5 nor a base64 MD5 (24 chars ending in '==')"
        )
    return raw.hex()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_matches(data: bytes, expected: str) -> bool:
    return md5_hex(data) == normalize_md5(expected)


def file_md5(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
