"""Names that come from metadata (class labels, video file names) turned into safe path components.

Kinetics labels carry spaces, apostrophes and quotes (``"passing American football (in game)"``); mmaction2
renames class folders with ``tr " " "_"`` and drops ``"`` when it builds file lists (formats.md 5.2, 5.5).
visionflow does the same in one place, and also makes sure a hostile or broken label cannot name a path
outside the output root: separators and control characters are percent-escaped, and components that are
empty, ``.``/``..`` or too long are refused with :class:`BadInputError`.
"""
from __future__ import annotations

import posixpath
import re
from include.visionflow.errors import BadInputError

MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux and most filesystems
# Characters that would split a path, end a list line or confuse a shell-free consumer: escaped, not kept.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\%]")
_SPACES = re.compile(r"\s+")


def _escape(match: re.Match) -> str:
    return "".join(f"%{b:02X}" for b in match.group(0).encode("utf-8"))


def safe_component(name: str, what: str = "name") -> str:
    """One path component: whitespace runs → ``_``, separators/control characters/``%`` escaped as ``%XX``.

    Raises :class:`BadInputError` for names that cannot be a component (empty, ``.``, ``..``, too long).
    """
    text = _SPACES.sub("_", str(name).strip())
    text = _UNSAFE.sub(_escape, text)
    if text in ("", ".", ".."):
        raise BadInputError(f"{what} {name!r} cannot be used as a file or directory name")
    if len(text.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise BadInputError(f"{what} {name[:40]!r}... is longer than {MAX_COMPONENT_BYTES} bytes as a file name")
    return text


def label_dir(label: str) -> str:
    """A class label as mmaction2 names its folder: quotes dropped, spaces → ``_`` (``air drumming`` →
    ``air_drumming``), then made safe."""
    return safe_component(str(label).replace('"', ""), what="class label")


def safe_relpath(rel: str, what: str = "path") -> str:
    """A relative POSIX path whose every component is made safe; absolute paths and ``..`` are refused."""
    rel = str(rel).replace("\\", "/")
    if rel.startswith("/"):
        raise BadInputError(f"{what} {rel!r} must be relative")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        raise BadInputError(f"{what} {rel!r} is empty")
    if ".." in parts:
        raise BadInputError(f"{what} {rel!r} climbs out of its root")
    return "/".join(safe_component(p, what=what) for p in parts)


def join_under(root: str, *parts: str) -> str:
    """``root/part/...`` for relative keys, refusing any result that is not strictly inside ``root``."""
    rel = posixpath.normpath(posixpath.join(*parts)) if parts else "."
    if rel in (".", "..") or rel.startswith("../") or rel.startswith("/"):
        raise BadInputError(f"{'/'.join(parts)!r} escapes {root or 'the output root'!r}")
    return posixpath.join(posixpath.normpath(root), rel) if root else rel
