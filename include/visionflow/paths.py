"""The one place where a value read from input (an image id, a YouTube id, a class label, a file name)
becomes part of an output path.

Values are refused, never rewritten into something else: a rewrite (escaping ``/``, trimming ``..``) can make
two inputs share a file or hide that the input is broken. A refused value raises :class:`BadRowError`, which
the shard runner counts as a ``bad_row`` item with its reason; raised for a param it fails the task like any
``BadInputError``. The checks run before anything is created, so a refused value leaves no folder behind.

mmaction2's naming of class folders (spaces to ``_``, quotes dropped; formats.md 5.2, 5.5) is a documented
transform applied *before* the check, in :func:`label_dir`.
"""
from __future__ import annotations

import posixpath
import re

from include.visionflow.errors import BadRowError

MAX_COMPONENT_BYTES = 200  # below NAME_MAX (255) so a suffix (``.jpg``, ``.part`` ...) always fits
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_SPACES = re.compile(r"\s+")


def safe_component(value: str, what: str = "name") -> str:
    """``value`` unchanged when it can be one path component; else :class:`BadRowError` naming it.

    Refused: empty, ``.``/``..``, any ``/`` or ``\\``, control characters (NUL, newlines), leading or trailing
    whitespace, a leading ``.`` (hidden files and our own ``.part``/``.tmp`` names), more than
    ``MAX_COMPONENT_BYTES`` bytes of UTF-8."""
    text = str(value)
    code = f"unsafe_{what.replace(' ', '_')}"
    if text in ("", ".", ".."):
        raise BadRowError(code, f"{what} {text!r} cannot be a file or folder name")
    if _UNSAFE.search(text):
        raise BadRowError(code, f"{what} {text[:80]!r} contains a path separator or control character")
    if text != text.strip() or text.startswith("."):
        raise BadRowError(code, f"{what} {text[:80]!r} starts with '.' or has surrounding whitespace")
    if len(text.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise BadRowError(code, f"{what} {text[:40]!r}... is longer than {MAX_COMPONENT_BYTES} bytes")
    return text


def label_dir(label: str) -> str:
    """A class label as mmaction2 names its folder (``air drumming`` -> ``air_drumming``, quotes dropped)."""
    return safe_component(_SPACES.sub("_", str(label).replace('"', "").strip()), what="class label")


def safe_relpath(rel: str, what: str = "path") -> str:
    """A relative POSIX path from input (a video's place under a folder): every component checked, spaces in
    components become ``_`` so list lines stay two-field; absolute paths and ``..`` are refused."""
    rel = str(rel)
    if rel.startswith("/") or "\\" in rel:
        raise BadRowError(f"unsafe_{what.replace(' ', '_')}", f"{what} {rel!r} must be a relative POSIX path")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        raise BadRowError(f"unsafe_{what.replace(' ', '_')}", f"{what} {rel!r} is empty")
    return "/".join(safe_component(_SPACES.sub("_", p.strip()), what=what) for p in parts)


def join_under(root: str, *parts: str) -> str:
    """``root/part/...`` for relative keys, refusing any result that is not strictly inside ``root``."""
    rel = posixpath.normpath(posixpath.join(*parts)) if parts else "."
    if rel in (".", "..") or rel.startswith("../") or rel.startswith("/"):
        raise BadRowError("unsafe_path", f"{'/'.join(parts)!r} escapes {root or 'the output root'!r}")
    return posixpath.join(posixpath.normpath(root), rel) if root else rel
