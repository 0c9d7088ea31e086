"""LLaMA-Factory datasets: sharegpt rows with videos, and entries of ``dataset_info.json`` (formats.md 4.3).

A video row is ``{"messages": [{"content": "<video>" + question + "?", "role": "user"}, {"content": answer,
"role": "assistant"}], "videos": [path]}``: one ``<video>`` token per entry of ``videos``, as LLaMA-Factory
checks. Its ``dataset_info.json`` entry names the file, ``"formatting": "sharegpt"``, the columns and the tags.

``dataset_info.json`` is shared by every dataset of a LLaMA-Factory data folder, so it is changed only by
:func:`merge_dataset_info`: under an exclusive lock file next to it, read, add or replace one entry, write a
temp file and rename it into place. Readers always see a whole file; two concurrent runs both land.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from include.visionflow.errors import BadInputError

DATASET_INFO = "dataset_info.json"
VIDEO_TOKEN = "<video>"


def video_row(question: str, answer: str, video: str) -> dict:
    """One sharegpt conversation about one video, as upstream writes it (``?`` appended to the question)."""
    return {
        "messages": [
            {"content": f"{VIDEO_TOKEN}{question}?", "role": "user"},
            {"content": answer, "role": "assistant"},
        ],
        "videos": [video],
    }


def sharegpt_video_entry(file_name: str) -> dict:
    """The ``dataset_info.json`` entry for a file of :func:`video_row` rows."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }


def check_row(row: dict) -> None:
    """LLaMA-Factory's rule: as many ``<video>`` tokens in the messages as entries in ``videos``."""
    tokens = sum(m["content"].count(VIDEO_TOKEN) for m in row["messages"])
    if tokens != len(row["videos"]):
        raise ValueError(f"{tokens} {VIDEO_TOKEN} tokens for {len(row['videos'])} videos")


def write_json_atomic(path: Path, data, indent: int | None = 4) -> None:
    """``json.dump(data, indent=4)`` (upstream's layout) to a temp file renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=indent, ensure_ascii=False)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``<path>.lock``: serialises writers across processes on this host."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merge_dataset_info(data_dir: str | Path, name: str, entry: dict) -> dict:
    """Set ``name`` to ``entry`` in ``<data_dir>/dataset_info.json``, keeping every other entry; returns the
    merged dict. A file that is not a JSON object is bad input (it is never overwritten)."""
    path = Path(data_dir) / DATASET_INFO
    with _locked(path):
        info = {}
        if path.exists():
            try:
                info = json.loads(path.read_text(encoding="utf-8") or "{}")
            except ValueError as err:
                raise BadInputError(f"{path} is not valid JSON ({err}); fix or remove it") from None
            if not isinstance(info, dict):
                raise BadInputError(f"{path} must hold a JSON object of datasets, not {type(info).__name__}")
        info[name] = entry
        write_json_atomic(path, info, indent=2)
    return info


# How a row names its video. LLaMA-Factory joins a path with ``media_dir`` (default: ``dataset_dir``) and
# keeps it as given when that file does not exist, so absolute paths work anywhere but tie the dataset to
# the source folder; ``relative`` and ``link`` need ``media_dir`` set to the data folder.
VIDEOS_MODES = ("absolute", "relative", "link")
LINKS_DIR = "videos"  # ``link`` mode: <data_dir>/videos/<dataset>/<file>


def video_reference(video: str | Path, data_dir: str | Path, mode: str, dataset: str) -> str:
    """The ``videos`` entry of a row for ``video`` under ``mode``:

    * ``absolute``: the video's absolute path (upstream's choice);
    * ``relative``: its path relative to ``data_dir`` (may start with ``../``): the two folders move together;
    * ``link``: ``videos/<dataset>/<file name>`` relative to ``data_dir``, a hard link to the video (a symbolic
      one across file systems), so cleaning the source folder keeps the dataset whole where a hard link was
      possible."""
    video, data_dir = Path(video).resolve(), Path(data_dir).resolve()
    if mode == "absolute":
        return str(video)
    if mode == "relative":
        return os.path.relpath(video, data_dir)
    if mode != "link":
        raise BadInputError(f"videos_mode must be one of {VIDEOS_MODES}, not {mode!r}")
    rel = Path(LINKS_DIR, dataset, video.name)
    target = data_dir / rel
    if not (target.exists() and os.path.samefile(target, video)):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.link")
        tmp.unlink(missing_ok=True)
        try:
            os.link(video, tmp)
        except OSError:  # another file system (or one without hard links)
            os.symlink(video, tmp)
        os.replace(tmp, target)  # a rerun finds it in place; no half-made link is ever seen
    return rel.as_posix()
