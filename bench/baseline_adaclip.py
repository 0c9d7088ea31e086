"""The per-video ffmpeg loops the XTune benchmarks compare against, as their upstream scripts run them.

``adaclip SRC DST [--frame_rate F] [--frame_size S] [--workers N]``: SamsungLabs/AdaCLIP
``utils/frame_extraction.py --parallel``: the sorted flat folder, names containing .mp4/.mkv/.webm/.avi,
``DST/<name without extension>/`` (non-empty ones skipped), one ``ffmpeg -nostats -loglevel 0 -i IN -q:v 2
[-vf scale] [-r F] DST/<stem>/image_%05d.jpg`` shell command per video, run by a ``multiprocessing.Pool`` of N.
(Upstream probes each video's size with ffprobe when ``--frame_size`` is set; imageio-ffmpeg ships no
ffprobe, so sizes come from PyAV here, outside the pool, as upstream's loop does before the pool starts.)

``loop SRC DST [--workers N]``: the seed-000 video_frames baseline, ``ffmpeg -i IN -vf fps=10,scale=... -q:v 2
DST/<stem>/%05d.jpg`` per video, one after another (N=1) or over a pool of N.
The ffmpeg binary is imageio-ffmpeg's. Prints ``{"videos": n}``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from multiprocessing import Pool

ACCEPTED = [".mp4", ".mkv", ".webm", ".avi"]


def _ffmpeg() -> str:
    from imageio_ffmpeg import get_ffmpeg_exe

    return get_ffmpeg_exe()


def _size(path: str) -> tuple[int, int]:
    import av

    with av.open(path) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def _run(command: str) -> None:
    subprocess.call(command, shell=True)


def adaclip_commands(src: str, dst: str, frame_rate: int, frame_size: int) -> list[str]:
    names = [n for n in sorted(os.listdir(src)) if any(x in n for x in ACCEPTED)]
    commands = []
    for name in names:
        out = os.path.join(dst, os.path.splitext(name)[0])
        os.makedirs(out, exist_ok=True)
        if os.listdir(out):
            continue
        rate = f"-r {frame_rate}" if frame_rate > 0 else ""
        scale = ""
        if frame_size > 0:
            w, h = _size(os.path.join(src, name))
            if min(w, h) > frame_size:
                scale = f"-vf scale=-1:{frame_size}" if w > h else f"-vf scale={frame_size}:-1"
        commands.append(f"{shlex.quote(_ffmpeg())} -nostats -loglevel 0 -i {shlex.quote(os.path.join(src, name))} "
                        f"-q:v 2 {scale} {rate} {shlex.quote(out)}/image_%05d.jpg")
    return commands


def loop_commands(src: str, dst: str) -> list[str]:
    commands = []
    for name in sorted(os.listdir(src)):
        out = os.path.join(dst, os.path.splitext(name)[0])
        os.makedirs(out, exist_ok=True)
        w, h = _size(os.path.join(src, name))
        scale = "" if min(w, h) <= 256 else (",scale=-2:256" if w >= h else ",scale=256:-2")
        commands.append(f"{shlex.quote(_ffmpeg())} -nostdin -loglevel error -y -i "
                        f"{shlex.quote(os.path.join(src, name))} -vf fps=10{scale} -q:v 2 {shlex.quote(out)}/%05d.jpg")
    return commands


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["adaclip", "loop"])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--frame_rate", type=int, default=-1)
    p.add_argument("--frame_size", type=int, default=-1)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = p.parse_args(argv)
    if a.what == "adaclip":
        commands = adaclip_commands(a.src, a.dst, a.frame_rate, a.frame_size)
    else:
        commands = loop_commands(a.src, a.dst)
    if a.workers <= 1:
        for command in commands:
            _run(command)
    else:
        with Pool(processes=a.workers) as pool:
            for _ in pool.imap_unordered(_run, commands):
                pass
    print(json.dumps({"videos": len(commands)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
