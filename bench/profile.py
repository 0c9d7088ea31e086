"""Profile the engine side of a case with py-spy (installed in ``.venv-bench``) and print the hottest frames.

``python -m bench.profile --case 1 [--count 400]``: serves the inputs, runs the engine side under
``py-spy record --subprocesses`` and prints self and inclusive shares of the samples. Only our own child is
sampled; the raw stacks stay in ``bench/work/profile-<case>.txt``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

from bench.env import ensure_bench_venv, tool_env
from bench.inputs import CAMERA, FLICKR_M, WORK, PhotoSet, ensure_videos
from bench.measure import run_measured


def summarize(raw: Path, top: int = 25) -> str:
    """Self and inclusive percentages per frame from py-spy's raw (collapsed) output."""
    own, incl, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        total += int(n)
        own[frames[-1]] += int(n)
        for frame in set(frames):
            incl[frame] += int(n)
    if not total:
        return "no samples"
    rows = [f"{total} samples", "self:"] + [f"  {n / total:6.1%}  {f[:140]}" for f, n in own.most_common(top)]
    rows += ["inclusive:"] + [f"  {n / total:6.1%}  {f[:140]}" for f, n in incl.most_common(top * 2)
                              if not f.startswith("process ")]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--case", type=int, choices=[1, 2, 3, 4], default=1)
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--rate", type=int, default=200)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    py_spy = ensure_bench_venv().parent / "py-spy"
    raw = WORK / f"profile-{a.case}.txt"
    out = WORK / f"profile-{a.case}-out"
    spy = [str(py_spy), "record", "--subprocesses", "--format", "raw", "-r", str(a.rate), "-o", str(raw), "--"]
    if a.case in (1, 2):
        from bench.case_images import _engine_cmd, _flickr_list, _write_rows, flickr_download_cmd
        from bench.serve import serving

        photos = PhotoSet(CAMERA if a.case == 1 else FLICKR_M, a.count).ensure()
        with serving([photos]) as source:
            rows = photos.rows(source.base_url)
            if a.case == 1:
                _write_rows(rows, out.parent / "profile-1-rows.parquet")
                cmd = _engine_cmd(out.parent / "profile-1-rows.parquet", out)
            else:  # the path case 2 measures: the Flickr list through plan_download + download_shard
                _flickr_list(rows, out.parent)
                cmd = flickr_download_cmd(out.parent / "bench.tsv.gz", out)
            m = run_measured(spy + cmd, env=tool_env())
    else:
        videos = ensure_videos()
        what = "frames" if a.case == 3 else "resize"
        m = run_measured(spy + [sys.executable, "-m", "bench.engine_video", what, str(out), *map(str, videos)])
    print(f"wall {m.wall:.1f} s, cpu {m.cpu:.1f} s, exit {m.returncode}")
    if m.returncode:
        print(m.stderr[-2000:])
    print(summarize(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
