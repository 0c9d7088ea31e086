"""The results table: medians, ratios ours/theirs, goal verdicts, machine facts; written to bench/results/."""
from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path

from bench.core import CaseResult

RESULTS = Path(__file__).resolve().parent / "results"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def fmt_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_met(result: CaseResult) -> str:
    if result.status != "ok":
        return result.status
    return {True: "yes", False: "NO", None: "-"}[result.met]


def table(results: list[CaseResult]) -> str:
    head = ("| # | case | wall ours | wall theirs | wall ours/theirs | CPU ours/theirs | peak RSS ours "
            "| peak RSS theirs | RSS ours/theirs | goal | met | measured |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        ours, theirs = r.ours, r.theirs
        lines.append(
            f"| {r.number} | {r.title} | {fmt_seconds(ours.wall if ours else None)} "
            f"| {fmt_seconds(theirs.wall if theirs else None)} | {fmt_ratio(r.wall_ratio)} "
            f"| {fmt_ratio(r.cpu_ratio)} | {fmt_mb(ours.peak_mb if ours else None)} | {fmt_mb(theirs.peak_mb if theirs else None)} "
            f"| {fmt_ratio(r.mem_ratio)} | {r.goal} | {fmt_met(r)} | {r.verdict or '; '.join(r.notes)[:200]} |"
        )
    return "\n".join(lines)


def _version(module: str) -> str:
    try:
        import importlib.metadata as md

        return md.version(module)
    except Exception:  # noqa: BLE001 - a fact we cannot read is reported, not fatal
        return "not installed"


def _ffmpeg_version() -> str:
    try:
        from imageio_ffmpeg import get_ffmpeg_exe

        out = subprocess.run([get_ffmpeg_exe(), "-version"], capture_output=True, text=True, timeout=10)
        return out.stdout.split("\n", 1)[0].replace("ffmpeg version ", "")
    except Exception:  # noqa: BLE001
        return "unknown"


def machine_facts(img2dataset: str) -> dict[str, str]:
    from PIL import features

    import av

    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "CPUs": f"{os.cpu_count()} ({cpu})",
        "memory": f"{mem:.0f} GB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Pillow": f"{_version('pillow')} (libjpeg-turbo: {features.check_feature('libjpeg_turbo')}, "
                  f"libjpeg {features.version('jpg')})",
        "simplejpeg": _version("simplejpeg"),
        "PyAV": f"{av.__version__} (FFmpeg libs {av.library_versions.get('libavcodec', '?')} libavcodec)",
        "ffmpeg CLI": _ffmpeg_version(),
        "img2dataset": img2dataset,
        "Airflow": _version("apache-airflow"),
    }


def render(results: list[CaseResult], facts: dict[str, str], command: str, reps: int) -> str:
    notes = [f"- case {r.number}: {n}" for r in results for n in r.notes]
    loads = [f"{r.number}: {max(s.load for s in (r.ours, r.theirs) if s and s.runs):.1f}" for r in results
             if any(s and s.runs for s in (r.ours, r.theirs))]
    return "\n".join([
        f"# visionflow benchmarks, {dt.date.today().isoformat()}",
        "",
        f"Command: `{command}` ({reps} repetitions per side; medians). Ratios are ours / theirs: below 1 means "
        "visionflow is faster or smaller. Peak RSS is the largest sum of RSS over each side's process tree, "
        "sampled every 20 ms (same method for both sides). CPU is user + system seconds of each side's tree.",
        f"Highest 1-minute load average at the start of a run, per case (2 = both cores busy): {', '.join(loads)}."
        if loads else "",
        "",
        table(results),
        "",
        "Notes:",
        *notes,
        "",
        "Machine:",
        *[f"- {k}: {v}" for k, v in facts.items()],
        "",
    ])


def write(text: str, day: dt.date | None = None, prefix: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{prefix + '-' if prefix else ''}{(day or dt.date.today()).isoformat()}.md"
    path.write_text(text)
    return path
