"""The trackverse DAG end to end with dag.test() against the sample source (HTTP and local_dir): every step,
one manifest row per video per step, the kept segments, blurred copies; a failing first step fails the run.
Steps 1-4 run in one mapped task (``videos``) and still leave one manifest per step."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.sample_source import trackverse as sample
from include.visionflow.datasets import trackverse as tv
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import ShardSpec
from include.visionflow.storage import open_storage

from tests.report.report_html import image_titled, read_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "trackverse.py")).get_dag("trackverse")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from include.sample_source.server import SampleSource

    server = SampleSource(tmp_path_factory.mktemp("tv-dag-source"), s3_port=None).start(["trackverse"])
    yield server
    server.stop()


def conf(source, out, **extra):
    """Every param spelled out: in one process, dag.test() can carry a previous run's conf over."""
    return {"yid_index": source.urls["trackverse_yid_index_url"], "video_source": "url_template",
            "url_template": source.urls["trackverse_url_template"], "local_dir": "", "output_root": str(out),
            "limit": None, "skip_cartoon_filter": False, "skip_aesthetics_filter": False,
            "cartoon_scorer": "colourfulness", "cartoon_threshold": None, "aesthetics_scorer": "exposure",
            "aesthetics_threshold": None, "blur_faces": True, "face_threshold": 0.2, "domain": "faces", "fps": 8,
            "min_track_len": 3, "min_track_area": 0.02, "detector": "centerface", "detector_settings": {},
            "curation": "random", "curation_sizes": [1, 2], "per_video": 3, "validation_yids": "", "seed": 0,
            "record_format": "release", **extra}


def states(dr) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for ti in dr.get_task_instances():
        found.setdefault(ti.task_id, set()).add(ti.state)
    return found


def specs_of(dr) -> list[ShardSpec]:
    ti = next(t for t in dr.get_task_instances() if t.task_id == "plan")
    return [ShardSpec.from_xcom(s) for s in ti.xcom_pull(task_ids="plan")]


@pytest.mark.slow
def test_full_run_over_http(airflow_db, dag, source, tmp_path):
    out = tmp_path / "tv"
    dr = dag.test(run_conf=conf(source, out))
    assert dr.state == "success", states(dr)
    assert all(s == {"success"} for s in states(dr).values()), states(dr)
    storage = open_storage(str(out))
    specs = specs_of(dr)
    for stage in ("download", "segments", "filters", "blur", "tracks", "clips"):
        got = {r.key: r.status.value for s in specs for r in read_manifest(storage, s.for_stage(stage).manifest_rel)}
        assert set(got) == set(sample.INDEX) and all(got[y] == "ok" for y in sample.VIDEOS), (stage, got)
        if stage in tv.STAGES:  # steps 1-4 carry a video's first failure along
            assert (got[sample.MISSING_ID], got[sample.CORRUPT_ID]) == ("failed_download", "failed_decode"), stage
        else:
            assert got[sample.MISSING_ID] != "ok" and got[sample.CORRUPT_ID] != "ok", stage
    for yid, expected in sample.EXPECTED_FILTERED.items():
        kept = tv.read_segments(storage, yid)
        assert [t for s in kept for t in s] == pytest.approx([t for s in expected for t in s], abs=0.05), yid
        assert (out / tv.blurred_rel(yid)).is_file() is bool(expected)  # nothing kept: not blurred
    # steps 5-6 share the ``tracks`` task as 1-4 share ``videos``: one XCom entry per step
    tracks_xcom = dr.get_task_instance("tracks", map_index=0).xcom_pull(task_ids="tracks", map_indexes=0)
    assert tracks_xcom.keys() == {"tracks", "clips"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["videos"] == len(sample.INDEX) and summary["segments_kept"] == 2
    curated = dr.get_task_instance("curate").xcom_pull(task_ids="curate")
    assert curated["videos"] == len(sample.INDEX) and set(curated["subsets"]) == {"random-1", "random-2"}
    assert summary["stages"]["download"]["counts"]["ok"] == 3
    check_report(out, dr.run_id)
    # the report runs beside ``curate`` (not after it) and counts the same videos and segments from the manifests
    assert dag.get_task("run_report").upstream_task_ids == {"tracks"}
    html = (out / "report.html").read_text()
    for key in ("videos", "segments_kept"):
        assert f'<td data-key="{key}">{summary[key]}</td>' in html, key


def release_loader_tracks(path: Path) -> list[dict]:
    """A subset read as TrackVerse's current loader reads it (MMPLab/TrackVerse main, ``download_tracks.py``
    ``scheduled_jobs``): gzip JSON lines, ``m['track_mp4_filename']`` under ``tracks_mp4/``, ``frame_bboxes``.
    That loader pairs the boxes with ``track_ts``, which the release holds as ``[start, end]``; the per-frame
    times are ``frame_ts``, so they are what the boxes must line up with."""
    import gzip

    import numpy as np

    tracks = []
    for line in gzip.open(path, "rt"):
        m = json.loads(line)
        tracks.append({"yid": m["yid"], "fn": m["track_mp4_filename"], "ts": np.array(m["frame_ts"]).astype(float),
                       "boxes": np.array(m["frame_bboxes"]).astype(float), "meta": m})
    return tracks


@pytest.mark.slow
def test_subsets_are_read_by_trackverses_release_loader_and_2024_by_param(airflow_db, dag, source, tmp_path):
    """Issue 27: the release loader failed with KeyError 'track_mp4_filename' on the 2024 fields. The default
    writes the release's fields; ``record_format=2024`` the v1 pipeline's, with class indices in top10_lbl."""
    assert dag.params["record_format"] == "release"
    out = tmp_path / "tv"
    dr = dag.test(run_conf=conf(source, out, blur_faces=False))
    assert dr.state == "success", states(dr)
    subsets = sorted((out / "tracks_subsets" / "faces").glob("*.jsonl.gzip"))
    assert [p.name for p in subsets] == ["random-1.jsonl.gzip", "random-2.jsonl.gzip"]
    tracks = release_loader_tracks(subsets[-1])
    assert len(tracks) == 2
    for track in tracks:
        m = track["meta"]
        assert (out / "tracks_mp4" / track["fn"]).is_file()
        assert track["boxes"].shape == (len(track["ts"]), 4) and len(track["ts"]) > 1
        assert m["track_ts"] == [m["frame_ts"][0], m["frame_ts"][-1]]
        assert m["top10_label_ids"] == [0] and m["top10_label_names"] == ["face"]  # centerface's one class
        assert set(m) == {"track_id", "track_ts", "frame_ts", "frame_bboxes", "yid", "track_mp4_filename",
                          "top10_label_ids", "top10_label_names"}
    assert json.loads((out / "summary.json").read_text())["record_format"] == "release"
    assert "**release** record format" in (out / "README.md").read_text()

    # Same root, other format: every step is reused, only the subsets are written again.
    again = dag.test(run_conf=conf(source, out, blur_faces=False, record_format="2024"))
    assert again.state == "success", states(again)
    from include.visionflow.tracking.meta import read_records

    rows = read_records(open_storage(str(out)), "tracks_subsets/faces/random-2.jsonl.gzip")
    assert sorted(r["tid"] for r in rows) == sorted(t["meta"]["track_id"] for t in tracks)
    for row in rows:
        assert (out / "tracks_mp4" / "faces" / row["fn"]).is_file()
        assert len(row["track_ts"]) == len(row["track_bbox"]) > 1
        assert row["top10_lbl"] == [0] and row["top10_desc"] == ["face"]
    assert json.loads((out / "summary.json").read_text())["record_format"] == "2024"
    assert "**2024** record format" in (out / "README.md").read_text()


def check_report(out: Path, run_id: str):
    """The run report: counts per step, tracks per class, segments, tracked boxes and blurred-face pairs."""
    from include.visionflow.report.publish import run_report_rel
    from include.visionflow.tracking.meta import read_records

    assert (out / "report.html").read_text() == (out / run_report_rel("trackverse", run_id)).read_text()
    headings, images = read_report(out / "report.html")
    assert {"Items per status", "Samples", "Tracked boxes on sampled frames",
            "Blurred faces next to the originals"} <= set(headings), headings
    storage = open_storage(str(out))
    tracks = [r for y in sample.VIDEOS for r in read_records(storage, f"tracks_meta/faces/{y[:2]}/{y}-meta.jsonl.gzip")]
    assert tracks  # the sample videos have faces to track
    image_titled(images, "Tracks per class")
    image_titled(images, "Segments kept per video")
    image_titled(images, "Length of kept segments")
    boxes = image_titled(images, "Tracked boxes on sampled frames")
    pairs = image_titled(images, "Blurred faces next to the originals")
    assert boxes.width > 300 and pairs.width > 300
    card = (out / "README.md").read_text()
    assert "TrackVerse" in card and "tracks_subsets/faces/" in card


def test_a_failing_first_step_fails_the_run(airflow_db, dag, source, tmp_path):
    dr = dag.test(run_conf=conf(source, tmp_path / "tv", yid_index=str(tmp_path / "missing.txt")))
    assert dr.state == "failed"
    assert states(dr)["plan"] == {"failed"}


def test_an_output_root_under_a_file_fails_plan_and_leaves_an_empty_report_link(airflow_db, dag, source, tmp_path):
    """Bad input in plan; the report teardown fails the same way, and its "Run report" link is empty rather
    than missing (Airflow evaluates the link when the task ends, and a missing XCom logged an API error)."""
    (tmp_path / "a-file").write_text("not a folder")
    dr = dag.test(run_conf=conf(source, tmp_path / "a-file" / "tv"))
    assert dr.state == "failed"
    assert states(dr)["plan"] == {"failed"} and states(dr)["run_report"] == {"failed"}
    report = dr.get_task_instance("run_report")
    assert report.xcom_pull(task_ids="run_report", key="report_url") == ""


def test_non_string_ids_in_the_index_are_bad_rows(airflow_db, dag, source, tmp_path):
    """Issue 28: ids that are JSON lists or objects were turned into Python text ("['a', 'b']") and used as
    video ids; now plan keeps each as a bad row with its reason, and the run counts them."""
    (tmp_path / "ids.json").write_text(json.dumps([["a", "b"], {"video_id": ["a", "b"]}, {"video_id": {"x": 1}},
                                                   sample.MISSING_ID]))
    out = tmp_path / "tv"
    dr = dag.test(run_conf=conf(source, out, yid_index=str(tmp_path / "ids.json"), blur_faces=False))
    assert states(dr)["plan"] == {"success"} and states(dr)["videos"] == {"success"}
    assert dr.state == "failed"  # no video could be downloaded: nothing to curate
    storage = open_storage(str(out))
    got = {r.key: (r.status.value, r.reason) for s in specs_of(dr)
           for r in read_manifest(storage, s.for_stage("download").manifest_rel)}
    assert got == {"yid_index entry 1": ("bad_row", "yid_not_text"), "yid_index entry 2": ("bad_row", "yid_not_text"),
                   "yid_index entry 3": ("bad_row", "yid_not_text"), sample.MISSING_ID: ("failed_download", "http_404")}
    assert json.loads((out / "summary.json").read_text())["stages"]["download"]["counts"]["bad_row"] == 3
    tracks = {r.key: r.reason for s in specs_of(dr) for r in read_manifest(storage, s.for_stage("tracks").manifest_rel)}
    assert tracks["yid_index entry 2"] == "yid_not_text"  # the same reason in steps 5-6


@pytest.mark.slow
def test_no_video_downloaded_fails_the_run(airflow_db, dag, source, tmp_path):
    (tmp_path / "ids.txt").write_text(f"{sample.MISSING_ID}\n")
    out = tmp_path / "tv"
    dr = dag.test(run_conf=conf(source, out, yid_index=str(tmp_path / "ids.txt"), blur_faces=False))
    assert dr.state == "failed"
    assert states(dr)["curate"] == {"failed"} and states(dr)["videos"] == {"success"}
    assert not (out / "tracks_subsets").exists()  # the run failed before curating nothing
    [spec] = specs_of(dr)
    assert dr.get_task_instance("videos", map_index=0).xcom_pull(task_ids="videos", map_indexes=0).keys() == {
        "download", "segments", "filters"}  # blur_faces off: no blur step
    assert not open_storage(str(out)).exists(spec.for_stage("blur").manifest_rel)


def _card(root: Path) -> str:
    """The dataset card but for the minute it was written."""
    import re

    return re.sub(r"_Card written by visionflow on [^_]*_", "_Card written by visionflow on <time>_",
                  (root / "README.md").read_text())


@pytest.mark.slow
def test_a_resumed_run_writes_the_summary_and_card_of_an_uninterrupted_one(airflow_db, dag, source, tmp_path):
    """Issue 28: after an uninterrupted run, one video's tracks and curate's files are lost; a run that stops
    there (its tracking step fails, its report still runs) and its rerun into the same root reuse every other
    output. The rerun's summary.json counts their bytes as on disk and its card equals the first run's, in
    whichever order dag.test() ran ``curate`` and ``run_report`` (it picks either). One root, because clips
    encoded twice differ by a few bytes."""
    out = tmp_path / "tv"
    first = dag.test(run_conf=conf(source, out))
    assert first.state == "success"
    summary, card = json.loads((out / "summary.json").read_text()), _card(out)
    from include.visionflow.tracking.meta import meta_rel, progress_rel, read_records

    storage = open_storage(str(out))
    tracked = next(y for y in sample.VIDEOS if read_records(storage, meta_rel("faces", y)))
    # Lost: one video's tracks and what curate wrote from them.
    for rel in (meta_rel("faces", tracked), progress_rel("faces", tracked), "summary.json", "README.md",
                *storage.list("tracks_subsets")):
        storage.delete(rel)
    stopped = dag.test(run_conf=conf(source, out, detector=f"onnx:{tmp_path / 'absent.onnx'}"))
    assert stopped.state == "failed" and states(stopped)["tracks"] == {"failed"}
    assert states(stopped)["run_report"] == {"success"} and states(stopped)["curate"] == {"upstream_failed"}
    assert not (out / "README.md").exists()  # no card from outputs curate did not finish
    rerun = dag.test(run_conf=conf(source, out))
    assert rerun.state == "success", states(rerun)
    videos = rerun.get_task_instance("videos", map_index=0).xcom_pull(task_ids="videos", map_indexes=0)
    tracks = rerun.get_task_instance("tracks", map_index=0).xcom_pull(task_ids="tracks", map_indexes=0)
    assert videos["download"]["reused"] == 3 and tracks["clips"]["reused"] == 2  # the rerun did reuse them
    assert tracks["tracks"]["reused"] == 1  # and tracked the video again

    assert json.loads((out / "summary.json").read_text()) == summary
    assert all(summary["stages"][s]["bytes"] > 0 for s in ("download", "blur", "clips")), summary
    assert _card(out) == card
    assert "| `summary.json` |" in card  # written after curate's files, not beside them
