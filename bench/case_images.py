"""Cases 1 and 2: image ingest through the engine vs img2dataset 1.47 on the same URL list and server.

img2dataset runs in ``.venv-bench`` with the flags of anchors.md 1.7: ``--output_format files``, processes =
CPU count, 16 threads, 250 samples per shard (so every process has shards), ``--timeout 10 --retries 0``,
``--encode_quality 90`` (the engine's JPEG quality) and, for case 1, MD5 verification against a hex column
(the engine verifies OpenImages' base64 ``OriginalMD5``).
"""
from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import sys
from pathlib import Path

from bench.core import CaseResult, Context, Side, failed
from bench.env import ensure_bench_venv, tool_env
from bench.inputs import CAMERA, FLICKR_M, WORK, PhotoSet
from bench.measure import run_measured
from bench.serve import serving

log = logging.getLogger(__name__)

CPUS = os.cpu_count() or 1
THREADS = 16
IMG2DATASET_SHARD = 250
LOGS = WORK / "logs"


def _write_rows(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    # img2dataset reads "url" and verifies against a hex "md5" column
    pq.write_table(pa.table({"url": [r["OriginalURL"] for r in rows], "md5": [r["md5"] for r in rows]}),
                   path.with_name("urls.parquet"))


def img2dataset_cmd(urls: Path, out: Path, resize: list[str], verify_md5: bool, quality: int = 90) -> list[str]:
    py = ensure_bench_venv()
    cmd = [str(py.parent / "img2dataset"), "--url_list", str(urls), "--input_format", "parquet",
           "--url_col", "url", "--output_folder", str(out), "--output_format", "files",
           "--processes_count", str(CPUS), "--thread_count", str(THREADS),
           "--number_sample_per_shard", str(IMG2DATASET_SHARD), "--timeout", "10", "--retries", "0",
           "--enable_wandb", "False", "--encode_quality", str(quality), *resize]
    if verify_md5:
        cmd += ["--compute_hash", "md5", "--verify_hash", '["md5","md5"]']
    return cmd


def img2dataset_successes(out: Path) -> int:
    return sum(json.loads(Path(f).read_text()).get("successes", 0) for f in glob.glob(f"{out}/*_stats.json"))


def _engine_cmd(rows: Path, out: Path) -> list[str]:
    """Case 1's engine side: the OpenImages shard runner, thumbnail 1024."""
    return [sys.executable, "-m", "bench.engine_images", str(rows), str(out), "--size", "1024",
            "--processes", str(CPUS), "--threads", str(THREADS)]


def _run_pair(ctx: Context, number: int, photo_set: PhotoSet, ours_cmd, resize: list[str], verify_md5: bool,
              prepare=None, quality: int = 90) -> tuple[Side, Side]:
    """Both sides ``ctx.reps`` times on the same served list; ``ours_cmd(work, out)`` builds our command."""
    work = WORK / f"case{number}"
    ours, theirs = Side("visionflow engine"), Side("img2dataset 1.47.0")
    env = tool_env()
    with serving([photo_set]) as source:
        rows = photo_set.rows(source.base_url)
        _write_rows(rows, work / "rows.parquet")
        if prepare is not None:
            prepare(rows, work)
        for rep in range(ctx.reps):
            # Alternate which side goes first, so neither always gets the warmer page cache.
            order = [("ours", ours), ("theirs", theirs)] if rep % 2 == 0 else [("theirs", theirs), ("ours", ours)]
            for name, side in order:
                out = work / f"out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                if name == "ours":
                    m = run_measured(ours_cmd(work, out), env=env,
                                     log_path=LOGS / f"case{number}-ours-{rep}.log")
                    count = json.loads(m.stdout.strip().splitlines()[-1])["ok"] if m.returncode == 0 else 0
                else:
                    m = run_measured(img2dataset_cmd(work / "urls.parquet", out, resize, verify_md5, quality), env=env,
                                     log_path=LOGS / f"case{number}-theirs-{rep}.log")
                    count = img2dataset_successes(out)
                if m.returncode != 0:
                    raise RuntimeError(f"case {number} {name} exited {m.returncode}: {m.stderr[-800:]}")
                side.add(m, count)
                log.info("case %s %s rep %s: %.1f s, %.0f MB, %s ok", number, name, rep, m.wall, m.peak_tree_mb,
                         count)
    return ours, theirs


def _judge(result: CaseResult, total: int, goal_speedup: float) -> CaseResult:
    ours, theirs = result.ours, result.theirs
    speedup = theirs.wall / ours.wall
    same = ours.count == theirs.count
    result.met = speedup >= goal_speedup and same
    result.verdict = (f"{speedup:.2f}x img2dataset's images/s ({ours.count / ours.wall:.1f} vs "
                      f"{theirs.count / theirs.wall:.1f}); successes {ours.count} vs {theirs.count} of {total}")
    return result


def case1(ctx: Context) -> CaseResult:
    title = "OpenImages-style ingest: 2,000 camera JPEGs -> MD5 -> thumbnail 1024"
    goal = ">= 2x img2dataset images/s, same successes"
    count = 200 if ctx.quick else 2000
    photos = PhotoSet(CAMERA, count).ensure()
    try:
        ours, theirs = _run_pair(ctx, 1, photos, lambda work, out: _engine_cmd(work / "rows.parquet", out),
                                 ["--resize_mode", "keep_ratio_largest", "--image_size", "1024",
                                  "--resize_only_if_bigger", "True"], verify_md5=True)
    except RuntimeError as err:
        return failed(1, title, goal, str(err))
    result = CaseResult(1, title, goal, ours, theirs, unit="images")
    result.notes.append(f"{count} URLs, {photos.total_bytes() / 2**20:.0f} MB served from 127.0.0.1; "
                        f"{CPUS} processes x {THREADS} threads on both sides")
    return _judge(result, count, 2.0)


def flickr_download_cmd(listing: Path, out: Path) -> list[str]:
    """Case 2's engine side: the Flickr download of a list (plan_download + download_shard per shard)."""
    return [sys.executable, "-m", "bench.engine_flickr", "download", str(listing), str(out), "--processes", str(CPUS)]


def _flickr_list(rows: list[dict], work: Path) -> None:
    import gzip

    with gzip.open(work / "bench.tsv.gz", "wt", encoding="utf-8") as fh:
        for r in rows:
            fh.write(f"{r['ImageID']}\t{r['OriginalURL']}\timages/{r['ImageID'][:2]}/{r['ImageID']}.jpg\n")


def case2(ctx: Context) -> CaseResult:
    title = "Flickr-CC download: 2,000 url_m JPEGs -> short side 256"
    goal = ">= 1.5x img2dataset images/s"
    count = 200 if ctx.quick else 2000
    photos = PhotoSet(FLICKR_M, count).ensure()
    resize = ["--resize_mode", "keep_ratio", "--image_size", "256"]
    ours_cmd = lambda work, out: flickr_download_cmd(work / "bench.tsv.gz", out)  # noqa: E731
    try:
        ours, theirs = _run_pair(ctx, 2, photos, ours_cmd, resize, verify_md5=False, prepare=_flickr_list,
                                 quality=75)
    except RuntimeError as err:
        return failed(2, title, goal, str(err))
    result = CaseResult(2, title, goal, ours, theirs, unit="images")
    result.notes.append("engine side: datasets/flickr.py plan_download + download_shard (q75, as upstream); "
                        "img2dataset q75")
    return _judge(result, count, 1.5)
