"""What the catalogues that are plain folders share: generate a file once, and serve a folder's files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from include.sample_source.server import Request, Response

TYPES = {".mp4": "video/mp4", ".csv": "text/csv", ".gz": "application/gzip", ".txt": "text/plain",
         ".json": "application/json", ".jsonl": "application/jsonl", ".zip": "application/zip",
         ".mkv": "video/x-matroska", ".webm": "video/webm"}


def generate_once(dst: Path, write: Callable[[Path], object]) -> Path:
    """Generate ``dst`` once: write a temp file, rename it into place (concurrent starts are harmless)."""
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp{dst.suffix}")
    write(tmp)
    os.replace(tmp, dst)
    return dst


class FolderFiles:
    """Serves the files under ``folder``; anything else (a missing video, a path that climbs out) is a 404."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()

    def __call__(self, req: Request) -> Response:
        path = (self.folder / req.path.lstrip("/")).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return Response(404, b"not found", content_type="text/plain")
        return Response(200, path, content_type=TYPES.get(path.suffix, "application/octet-stream"))
