"""The engine side of cases 3 and 4 as its own process: one call per video, in order, like the ffmpeg loop.

``python -m bench.engine_video frames OUT a.mp4 b.mp4`` writes ``OUT/<stem>/%05d.jpg`` at 10 fps, short side
256; ``... resize OUT a.mp4`` writes ``OUT/<stem>.mp4`` at short side 256 with a key frame every 16 frames.
Prints ``{"frames": {stem: n}}``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["frames", "resize"])
    p.add_argument("out")
    p.add_argument("videos", nargs="+")
    a = p.parse_args(argv)
    out = Path(a.out)
    counts: dict[str, int] = {}
    for video in map(Path, a.videos):
        if a.what == "frames":
            from include.visionflow.video.frames import extract_frames

            (out / video.stem).mkdir(parents=True, exist_ok=True)
            counts[video.stem] = extract_frames(video, out / video.stem, fps=10.0, short_side=256)
        else:
            from include.visionflow.video.clip import resize_video

            out.mkdir(parents=True, exist_ok=True)
            info = resize_video(video, out / f"{video.stem}.mp4", short_side=256, dense=True)
            counts[video.stem] = info.frames if hasattr(info, "frames") else -1
    print(json.dumps({"frames": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
