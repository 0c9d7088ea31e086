"""The kinetics DAG end to end with dag.test() against the sample source (HTTP): every stage, the lists,
the report; a rerun reuses every finished clip; switches skip stages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.sample_source import kinetics as sample
from include.visionflow.datasets import kinetics_lists as kl
from include.visionflow.formats.mmaction import parse_list
from include.visionflow.shards import ShardSpec
from include.visionflow.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "kinetics.py")).get_dag("kinetics")


def conf(sample_source, out, **extra):
    """Every param spelled out: in one process, dag.test() can carry a previous run's conf over as params."""
    return {"dataset": "kinetics400", "annotations_url": sample_source.urls["kinetics_annotations_url"],
            "video_source": "url_template", "url_template": sample_source.urls["kinetics_url_template"],
            "local_dir": "", "splits": ["train", "val"], "output_root": str(out), "short_side": 256, "dense": True,
            "frames": True, "limit": None, "seed": 0, **extra}


def states(dr) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for ti in dr.get_task_instances():
        found.setdefault(ti.task_id, set()).add(ti.state)
    return found


def specs_of(dr) -> list[ShardSpec]:
    ti = next(t for t in dr.get_task_instances() if t.task_id == "plan")
    return [ShardSpec.from_xcom(s) for s in ti.xcom_pull(task_ids="plan")]


@pytest.mark.slow
def test_full_run_then_rerun(airflow_db, dag, sample_source, tmp_path):
    out = tmp_path / "k400"
    dr = dag.test(run_conf=conf(sample_source, out))
    assert dr.state == "success"
    assert set(states(dr)) == {"annotations", "plan", "clips", "dense", "rawframes", "file_lists",
                               "download_report", "fail_run_on_failed_step"}
    assert states(dr)["fail_run_on_failed_step"] == {"skipped"}  # nothing failed
    storage = open_storage(str(out))
    specs = specs_of(dr)
    got = {split: {r.key: r.status.value for r in rows} for split, rows in kl.stage_rows(storage, specs,
                                                                                         "clips").items()}
    assert got == sample.EXPECTED
    for name in ("kinetics400_train_list_videos.txt", "kinetics400_val_list_videos.txt",
                 "kinetics400_train_list_rawframes.txt", "kinetics400_val_list_rawframes.txt"):
        assert (out / name).is_file(), name
    videos = parse_list((out / "kinetics400_train_list_videos.txt").read_text(), rawframes=False)
    assert all((out / "videos_train" / e.path).is_file() for e in videos) and len(videos) == 5
    assert all((out / "videos_train_256p_dense_cache" / e.path).is_file() for e in videos)
    frames = parse_list((out / "kinetics400_val_list_rawframes.txt").read_text(), rawframes=True)
    assert all(len(list((out / "rawframes_val" / e.path).iterdir())) == e.frames for e in frames)
    report = json.loads((out / "download_report.json").read_text())
    assert {f["reason"] for f in report["failures"]} == {"http_404", "bad_time_range", "unreadable_video"}

    dr2 = dag.test(run_conf=conf(sample_source, out))
    assert dr2.state == "success"
    summary = json.loads((out / "summary.json").read_text())
    for split in ("train", "val"):
        clips = summary["splits"][split]["clips"]
        assert clips["reused"] == clips["counts"]["ok"] > 0  # nothing trimmed twice


def test_limit_test_split_and_switches(airflow_db, dag, sample_source, tmp_path):
    out = tmp_path / "k700"
    dr = dag.test(run_conf=conf(sample_source, out, dataset="kinetics700", splits=["test"], limit=1, dense=False,
                                frames=False, annotations_url=sample_source.urls["kinetics_annotations_folder_url"]))
    assert dr.state == "success"
    found = states(dr)
    assert found["dense"] == {"skipped"} and found["rawframes"] == {"skipped"}
    assert found["file_lists"] == {"success"}
    assert (out / "videos_test" / "test" / "carphone001_000000_000002.mp4").is_file()
    assert (out / "kinetics700_test_list_videos.txt").read_text() == "test/carphone001_000000_000002.mp4 -1\n"
    assert not (out / "videos_test_256p_dense_cache").exists() and not (out / "rawframes_test").exists()
