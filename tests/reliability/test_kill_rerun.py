"""SIGKILL per family: an engine step is killed mid-way in its own process, then rerun to completion.

For each family (OpenImages image download, video frame extraction, a Flickr crawl day, OpenImages
tarball-to-zip) the step runs once uninterrupted into one root, and once killed and rerun into another. After
the kill, what a reader can see must be complete (equal to the uninterrupted run's file or absent); after the
rerun, manifests (keys, statuses, reasons, outputs) and output bytes equal the uninterrupted run's.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from include.sample_source import faults
from include.sample_source import flickr_api as fa
from include.visionflow.datasets import openimages as oi
from include.visionflow.datasets import video_frames as vf
from include.visionflow.manifest import read_manifest
from include.visionflow.storage import open_storage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

STEP = Path(__file__).with_name("engine_step.py")
KILLS: list[dict] = []  # per family: what was killed when, for the report


def run_step(args: dict, kill_when=None, timeout: float = 240) -> tuple[int, float]:
    """Run the step; with ``kill_when``, SIGKILL it as soon as that returns true. Returns (exit code, seconds)."""
    env = {**os.environ, "VISIONFLOW_ALLOW_PRIVATE_NETWORKS": "1", "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with open(Path(args["root"]).parent / f"{Path(args['root']).name}.stderr", "ab") as err:
        proc = subprocess.Popen([sys.executable, str(STEP), json.dumps(args)], env=env, stdout=err, stderr=err)
        try:
            while proc.poll() is None:
                if time.monotonic() - started > timeout:
                    proc.kill()
                    pytest.fail(f"{args['step']} still running after {timeout} s")
                if kill_when is not None and kill_when():
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    break
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode not in (0, -signal.SIGKILL):
        log = (Path(args["root"]).parent / f"{Path(args['root']).name}.stderr").read_text()[-3000:]
        pytest.fail(f"{args['step']} exited {proc.returncode}:\n{log}")
    return proc.returncode, time.monotonic() - started


def visible(root: Path, under: str = "") -> dict[str, bytes]:
    """Every file a reader of the output root sees (the root's ``.tmp`` staging area is not output)."""
    base = root / under if under else root
    if not base.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(base.rglob("*"))
            if p.is_file() and ".tmp" not in p.relative_to(root).parts}


def manifest_view(root: Path, specs) -> list[tuple]:
    storage = open_storage(str(root))
    return sorted((r.key, r.status.value, r.reason, r.output)
                  for s in specs for r in read_manifest(storage, s.manifest_rel))


def kill_and_rerun(tmp_path: Path, args: dict, some_output) -> tuple[Path, Path, dict]:
    """The uninterrupted run in ``whole/``; the killed then rerun one in ``killed/``."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    rc, seconds = run_step({**args, "root": str(whole)})
    assert rc == 0
    rc, killed_after = run_step({**args, "root": str(killed)}, kill_when=lambda: some_output(killed))
    assert rc == -signal.SIGKILL, "the step finished before the kill: make it longer"
    seen = visible(killed)
    orphans = [p for p in (killed / ".tmp").rglob("*") if p.is_file()]
    rc2, rerun_seconds = run_step({**args, "root": str(killed)})
    assert rc2 == 0
    left = [p for p in (killed / ".tmp").rglob("*") if p.is_file()]
    assert not left, f"temp files the kill left behind survive the rerun: {left[:5]}"
    leases = sorted(str(p.relative_to(killed)) for p in killed.rglob("*.lease"))
    assert not leases, f"shard leases the kill left behind survive the rerun: {leases}"  # taken over, released
    facts = {"step": args["step"], "equal": "manifests and output bytes", "uninterrupted_s": seconds,
             "killed_after_s": killed_after,
             "rerun_s": rerun_seconds, "visible_after_kill": seen, "orphans": len(orphans)}
    KILLS.append(facts)
    return whole, killed, facts


def assert_nothing_partial(seen: dict[str, bytes], reference: dict[str, bytes], also_allowed=()) -> None:
    """Each file visible after the kill is one of the finished run's files, whole, or an allowed extra: a
    shard's lease is one (the killed writer held it; the rerun takes it over and removes it)."""
    seen = {rel: data for rel, data in seen.items() if not (rel.startswith("_work/") and rel.endswith(".lease"))}
    partial = {rel for rel in seen if rel.endswith(".part") or Path(rel).name.startswith(".")}
    assert not partial, f"temp files visible after the kill: {sorted(partial)[:5]}"
    differing = {rel for rel, data in seen.items() if rel in reference and reference[rel] != data}
    assert not differing, f"partial outputs visible after the kill: {sorted(differing)[:5]}"
    unknown = {rel for rel in seen if rel not in reference and not any(rel.startswith(a) for a in also_allowed)}
    assert not unknown, f"files the finished run does not have: {sorted(unknown)[:5]}"


# -- OpenImages image download ----------------------------------------------------------------------------------
def _openimages_shard(root: Path, items) -> list:
    storage = open_storage(str(root))
    storage.write_text(oi.METADATA_REL, faults.metadata_csv(items))
    storage.write_text(oi.BOXABLE_REL, ",".join(faults.OPENIMAGES_COLUMNS) + "\n")
    return oi.plan_shards(storage, "_work/run", ["train"], len(items))


def test_kill_openimages_download_mid_shard(sample_source, tmp_path, figures):
    kinds = ["slow"] * 8 + ["http500", "not_image", "short_length", "html_body", "mode_cmyk", "mode_la",
                            "redirect_loop", "mode_png16_rgb"]
    items = [faults.make_item(sample_source.base_url, kind, 120 if kind == "slow" else None,
                              faults.image_id(7, i)) for i, kind in enumerate(kinds * 10)]
    specs = {}
    for name in ("whole", "killed"):
        specs[name] = _openimages_shard(tmp_path / name, items)
    assert len(specs["whole"]) == 1
    args = {"step": "openimages_download", "shard": specs["whole"][0].to_xcom(), "threads": 4,
            "fetch": {"retries": 1, "backoff": 0.01, "max_backoff": 0.1, "read_timeout": 5.0, "max_bytes": 1 << 20}}

    def some_images(root: Path) -> bool:
        return len(visible(root, "train/images")) >= 15

    whole, killed, facts = kill_and_rerun(tmp_path, args, some_images)
    reference = visible(whole)
    assert_nothing_partial(facts["visible_after_kill"], reference, also_allowed=("_work/run/shards/", "metadata/"))
    assert not any(rel.startswith("_work/run/manifests/") for rel in facts["visible_after_kill"])
    assert manifest_view(killed, specs["killed"]) == manifest_view(whole, specs["whole"])
    assert visible(killed, "train") == visible(whole, "train")
    ok = sum(r[1] == "ok" for r in manifest_view(whole, specs["whole"]))
    facts["summary"] = (f"{len(items)} images in one shard (4 threads; {ok} ok, the rest permanent faults); "
                        f"{sum(k.startswith('train/images/') for k in facts['visible_after_kill'])} images visible "
                        "at the kill")
    _report(figures)


# -- video frames -----------------------------------------------------------------------------------------------
def test_kill_video_frames_mid_shard(sample_source, tmp_path, figures):
    video_dir = sample_source.urls["video_frames_dir"]
    specs = {name: vf.plan(open_storage(str(tmp_path / name)), "_work/run", video_dir, per_shard=50)
             for name in ("whole", "killed")}
    assert len(specs["whole"]) == 1
    args = {"step": "video_frames", "shard": specs["whole"][0].to_xcom(), "video_dir": video_dir, "fps": 10,
            "short_side": 128}

    whole, killed, facts = kill_and_rerun(tmp_path, args, _has_jpg)
    reference = visible(whole)
    assert_nothing_partial(facts["visible_after_kill"], reference, also_allowed=("_work/run/shards/",))
    folders = {str(Path(rel).parent) for rel in facts["visible_after_kill"] if rel.endswith(".jpg")}
    for folder in folders:  # a folder that is visible holds all its frames
        assert {r for r in facts["visible_after_kill"] if r.startswith(folder + "/")} == \
               {r for r in reference if r.startswith(folder + "/")}
    assert manifest_view(killed, specs["killed"]) == manifest_view(whole, specs["whole"])
    frames = {k: v for k, v in visible(whole).items() if k.endswith(".jpg")}
    assert frames and {k: v for k, v in visible(killed).items() if k.endswith(".jpg")} == frames
    facts["summary"] = (f"{specs['whole'][0].count} videos in one shard, {len(frames)} frames; "
                        f"{len(folders)} folder(s) complete at the kill")
    _report(figures)


def _has_jpg(root: Path) -> bool:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".tmp", "_work")]
        if any(f.endswith(".jpg") for f in filenames):
            return True
    return False


# -- Flickr crawl day -------------------------------------------------------------------------------------------
def test_kill_flickr_crawl_day(sample_source, tmp_path, figures):
    endpoint = sample_source.urls["flickr_endpoint"]
    path = "/" + endpoint.split("/", 3)[3].split("?")[0]
    args = {"step": "flickr_crawl_day", "endpoint": endpoint, "api_key": fa.API_KEY, "day": fa.DENSE_DAY,
            "strategy": "walk"}
    start_hits = {}

    def some_requests(root: Path) -> bool:
        with sample_source.lock:
            hits = sample_source.hits[path]
        start_hits.setdefault("n", hits)
        return hits - start_hits["n"] >= 4

    whole, killed, facts = kill_and_rerun(tmp_path, args, some_requests)
    reference = visible(whole)
    assert_nothing_partial(facts["visible_after_kill"], reference)
    day = f"meta/{fa.DENSE_DAY}/done"
    assert day not in facts["visible_after_kill"], "a killed crawl must not look done"
    # crawl.json names the TSV by its full path: the two roots differ there and nowhere else
    assert {k: v.replace(str(killed).encode(), str(whole).encode()) for k, v in visible(killed).items()} == reference
    facts["equal"] = "the day's TSV, crawl.json (but for its root path) and done marker"
    report = json.loads(reference[f"meta/{fa.DENSE_DAY}/crawl.json"])
    facts["summary"] = (f"day {fa.DENSE_DAY}: {report['rows']} rows, {report['requests']} API requests; "
                        "killed after 4 API requests")
    _report(figures)


# -- OpenImages tarballs to zip ---------------------------------------------------------------------------------
BUCKET = "visionflow-fault-tarballs"
TARBALLS = ["train_0.tar.gz", "train_1.tar.gz", "train_2.tar.gz", "validation.tar.gz"]


def _upload_tarballs(s3) -> list[str]:
    import random

    client = s3.ensure_bucket(BUCKET)
    keys = []
    for t, name in enumerate(TARBALLS):
        rng = random.Random(f"tarball-{t}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
            for m in range(40):
                data = rng.randbytes(200_000)
                info = tarfile.TarInfo(f"{name.split('.')[0]}/{m:04x}.jpg")
                info.size, info.mtime = len(data), 1_600_000_000
                tar.addfile(info, io.BytesIO(data))
        client.put_object(Bucket=BUCKET, Key=f"tar/{name}", Body=buf.getvalue())
        keys.append(f"tar/{name}")
    return keys


def test_kill_tarball_to_zip(sample_source, tmp_path, figures):
    keys = _upload_tarballs(sample_source.s3)
    args = {"step": "openimages_tarballs", "endpoint": sample_source.s3.endpoint_url, "bucket": BUCKET,
            "keys": keys}

    def a_zip(root: Path) -> bool:
        return any(rel.endswith(".zip") for rel in visible(root))

    whole, killed, facts = kill_and_rerun(tmp_path, args, a_zip)
    reference = visible(whole)
    assert sorted(reference) == ["targets/train_0.zip", "targets/train_1.zip", "targets/train_2.zip",
                                 "validation/validation.zip"]
    tarballs = {f"{'validation' if n.startswith('validation') else 'targets'}/{n}" for n in TARBALLS}
    seen = facts["visible_after_kill"]
    assert_nothing_partial({k: v for k, v in seen.items() if k not in tarballs}, reference)
    client = sample_source.s3.client()
    for rel in set(seen) & tarballs:  # a tarball that is visible is the whole download
        body = client.get_object(Bucket=BUCKET, Key=f"tar/{Path(rel).name}")["Body"].read()
        assert seen[rel] == body
    for rel in seen:
        if rel.endswith(".zip"):
            assert zipfile.ZipFile(io.BytesIO(seen[rel])).testzip() is None
    assert visible(killed) == reference
    facts["equal"] = "zips (bytes)"
    facts["summary"] = (f"{len(keys)} tarballs of 40 x 200 KB members, one task after the other; "
                        f"{sum(r.endswith('.zip') for r in seen)} zip(s) visible at the kill")
    _report(figures)


def _report(figures) -> None:
    facts = KILLS[-1]
    figures.add("SIGKILL mid-step, then rerun (per family)", [
        f"- `{facts['step']}`: {facts['summary']}. Uninterrupted {facts['uninterrupted_s']:.1f} s; killed "
        f"after {facts['killed_after_s']:.1f} s with {len(facts['visible_after_kill'])} files visible, all "
        f"complete ({facts['orphans']} temp file(s) left under `.tmp`, none after the rerun); rerun "
        f"{facts['rerun_s']:.1f} s; {facts['equal']} equal the uninterrupted run's.",
    ])
