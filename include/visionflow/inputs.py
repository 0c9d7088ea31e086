"""Which local paths a DAG may read as input (metadata CSVs, annotation tarballs, video folders).

A param that names a local file is as untrusted as a URL: without a rule, ``metadata_url=/etc/passwd``
reads a system file (and an error quoting its first line would leak it). Local inputs must resolve
(symlinks followed) inside one of the allowed input folders: ``VISIONFLOW_INPUT_DIRS`` (folders separated
by ``os.pathsep``), by default the project's ``data/`` folder. Errors name the path and the rule, never
the file's content.
"""
from __future__ import annotations

import os
from pathlib import Path

from include.visionflow.errors import BadInputError

PROJECT_DATA = Path(__file__).resolve().parents[2] / "data"


def allowed_input_dirs() -> list[Path]:
    configured = os.environ.get("VISIONFLOW_INPUT_DIRS", "")
    folders = [Path(p).expanduser() for p in configured.split(os.pathsep) if p.strip()] or [PROJECT_DATA]
    return [p.resolve() for p in folders]


def local_input(path: str | Path, what: str) -> Path:
    """``path`` resolved, if it lies in an allowed input folder; BadInputError naming ``what`` otherwise."""
    resolved = Path(path).expanduser().resolve()
    allowed = allowed_input_dirs()
    if not any(resolved.is_relative_to(folder) for folder in allowed):
        raise BadInputError(
            f"{what} {str(path)!r} is a local path outside the allowed input folders "
            f"{[str(a) for a in allowed]}; put the file there or add its folder to VISIONFLOW_INPUT_DIRS"
        )
    return resolved


def is_local_path(value: str) -> bool:
    """True for a param that names a local file or folder rather than a URL."""
    return "://" not in value and (value.startswith(("/", "~", ".")) or Path(value).exists())
