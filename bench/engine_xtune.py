"""The engine side of cases 12 and 13 as its own process: a whole folder through the DAGs' shard code.

``python -m bench.engine_xtune adaclip SRC OUT [--frame_rate F] [--frame_size S]``: ``video_retrieval``'s plan
and frame extraction (AdaCLIP's frames) into ``OUT/<key>/image_%05d.jpg``;
``python -m bench.engine_xtune video_frames SRC OUT``: ``video_frames`` at 10 fps, short side 256.
As the DAGs run: the plan cuts the folder into one shard per worker, and each shard runs in its own process
(a mapped task; ``--workers``, default the CPU count), videos one at a time, each in one thread (the cores
are already full). Shards are balanced by file size, as the plan cuts them. Prints ``{"counts": ...}``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def _shard(what: str, out: str, src: str, spec: dict, frame_rate: float, frame_size: int) -> dict:
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    storage, shard = open_storage(out), ShardSpec.from_xcom(spec)
    if what == "adaclip":
        from include.visionflow.datasets import video_retrieval

        settings = video_retrieval.FrameSettings(frame_rate, frame_size)
        return video_retrieval.extract_shard(storage, shard, settings, threads=1).counts
    from include.visionflow.datasets import video_frames

    options = video_frames.frame_options(fps=10.0, short_side=256, threads=1)
    return video_frames.extract_shard(storage, shard, src, options, threads=1).counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["adaclip", "video_frames"])
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--frame_rate", type=float, default=-1)
    p.add_argument("--frame_size", type=int, default=-1)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = p.parse_args(argv)
    # The bench's generated folder is a legitimate input folder (the DAGs only read allowed folders).
    os.environ["VISIONFLOW_INPUT_DIRS"] = os.pathsep.join(
        p for p in (os.environ.get("VISIONFLOW_INPUT_DIRS", ""), os.path.abspath(a.src)) if p)
    from include.visionflow.storage import open_storage

    storage = open_storage(a.out)
    videos = sum(1 for n in os.listdir(a.src) if not n.startswith("."))
    per_shard = max(1, math.ceil(videos / a.workers))
    if a.what == "adaclip":
        from include.visionflow.datasets import video_retrieval

        specs = video_retrieval.plan(storage, "_work/bench", a.src, per_shard=per_shard)
    else:
        from include.visionflow.datasets import video_frames

        specs = video_frames.plan(storage, "_work/bench", a.src, per_shard=per_shard)
    counts: dict[str, int] = {}
    with ProcessPoolExecutor(max_workers=a.workers, mp_context=get_context("spawn")) as pool:
        jobs = [pool.submit(_shard, a.what, a.out, a.src, s.to_xcom(), a.frame_rate, a.frame_size) for s in specs]
        for job in jobs:
            for status, n in job.result().items():
                counts[status] = counts.get(status, 0) + n
    print(json.dumps({"counts": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
