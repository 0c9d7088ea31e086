"""The engine side of cases 12 and 13 as its own process: a whole folder through the DAGs' shard code.

``python -m bench.engine_xtune adaclip SRC OUT [--frame_rate F] [--frame_size S]``: ``video_retrieval``'s plan
and frame extraction (AdaCLIP's frames) into ``OUT/<key>/image_%05d.jpg``;
``python -m bench.engine_xtune video_frames SRC OUT``: ``video_frames`` at 10 fps, short side 256.
Videos run ``--threads`` at a time (default: the CPU count), as one mapped task does. Prints ``{"counts": ...}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["adaclip", "video_frames"])
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--frame_rate", type=float, default=-1)
    p.add_argument("--frame_size", type=int, default=-1)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args(argv)
    from include.visionflow.storage import open_storage

    storage = open_storage(a.out)
    counts: dict[str, int] = {}
    if a.what == "adaclip":
        from include.visionflow.datasets import video_retrieval

        settings = video_retrieval.FrameSettings(a.frame_rate, a.frame_size)
        for spec in video_retrieval.plan(storage, "_work/bench", a.src, per_shard=10_000):
            counts.update(video_retrieval.extract_shard(storage, spec, settings, threads=a.threads).counts)
    else:
        from include.visionflow.datasets import video_frames

        options = video_frames.frame_options(fps=10.0, short_side=256)
        for spec in video_frames.plan(storage, "_work/bench", a.src, per_shard=10_000):
            counts.update(video_frames.extract_shard(storage, spec, a.src, options, threads=a.threads).counts)
    print(json.dumps({"counts": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
