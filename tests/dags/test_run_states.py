"""Honest run states: for every DAG, a first step that fails makes the whole run end failed, even where a
report runs after the failure (kinetics), and that report says the build is incomplete."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(module: str, dag_id: str):
    # A fresh DAG object per test: dag.test() resolves run_conf into the DAG's params in place.
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / f"{module}.py")).get_dag(dag_id)


def states(dr) -> dict[str, set]:
    found: dict[str, set] = {}
    for ti in dr.get_task_instances():
        found.setdefault(ti.task_id, set()).add(ti.state)
    return found


def test_kinetics_without_annotations_fails_and_its_report_says_so(airflow_db, sample_source, tmp_path):
    out = tmp_path / "k400"
    conf = {"dataset": "kinetics400", "annotations_url": f"{sample_source.base_url}/kinetics/absent.tar.gz",
            "video_source": "url_template", "url_template": sample_source.urls["kinetics_url_template"],
            "local_dir": "", "splits": ["train", "val"], "output_root": str(out), "short_side": 256,
            "dense": True, "frames": True, "limit": None, "seed": 0}
    dr = load("kinetics", "kinetics").test(run_conf=conf)
    assert dr.state == "failed"
    got = states(dr)
    assert got["annotations"] == {"failed"} and got["download_report"] == {"success"}
    assert got["fail_run_on_failed_step"] == {"failed"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and "plan" in summary["problems"][0] and summary["splits"] == {}
    assert json.loads((out / "download_report.json").read_text())["complete"] is False


def test_kinetics_success_is_not_touched_by_the_failure_check(airflow_db, sample_source, tmp_path):
    conf = {"dataset": "kinetics400", "annotations_url": sample_source.urls["kinetics_annotations_url"],
            "video_source": "url_template", "url_template": sample_source.urls["kinetics_url_template"],
            "local_dir": "", "splits": ["val"], "output_root": str(tmp_path / "k"), "short_side": 64,
            "dense": False, "frames": False, "limit": 1, "seed": 0}
    dr = load("kinetics", "kinetics").test(run_conf=conf)
    assert dr.state == "success"
    assert states(dr)["fail_run_on_failed_step"] == {"skipped"}
    assert json.loads((tmp_path / "k" / "summary.json").read_text())["complete"] is True


def test_video_frames_with_a_missing_folder_fails(airflow_db, tmp_path):
    conf = {"video_dir": str(tmp_path / "absent"), "frames_dir": str(tmp_path / "frames"), "fps": 10,
            "short_side": 256, "pattern": "%05d.jpg", "quality": 90, "filelist": ""}
    dr = load("video_frames", "video_frames").test(run_conf=conf)
    assert dr.state == "failed" and states(dr)["plan"] == {"failed"}
    assert not (tmp_path / "frames" / "filelist.txt").exists()


def test_openimages_with_a_dead_metadata_url_fails(airflow_db, sample_source, tmp_path):
    conf = {"metadata_url": f"{sample_source.base_url}/openimages/metadata/absent.csv",
            "boxable_url": sample_source.urls["openimages_boxable_url"], "output_root": str(tmp_path / "oi"),
            "train_size": 8, "tarballs": False}
    dr = load("openimages", "openimages_v4").test(run_conf=conf)
    assert dr.state == "failed" and states(dr)["fetch_metadata"] == {"failed"}
    assert not (tmp_path / "oi" / "train" / "summary.json").exists()


@pytest.fixture
def keyless_flickr_conn(sample_source, monkeypatch):
    conn = json.loads(sample_source.urls["flickr_conn_json"])
    conn["password"] = ""
    monkeypatch.setenv("AIRFLOW_CONN_FLICKR_DEFAULT", json.dumps(conn))


def test_flickr_crawl_without_a_key_fails(airflow_db, keyless_flickr_conn, tmp_path):
    dr = load("flickr_cc", "flickr_cc_crawl").test(
        run_conf={"date": "2021-06-01", "reprocess": False, "strategy": "walk", "output_root": str(tmp_path)})
    assert dr.state == "failed" and states(dr)["crawl_day"] == {"failed"}
    assert not list(tmp_path.glob("meta/*/done"))


def test_flickr_subsets_without_crawled_days_fails(airflow_db, tmp_path):
    dr = load("flickr_cc", "flickr_cc_subsets").test(
        run_conf={"output_root": str(tmp_path), "sizes": [1], "seed": 0})
    assert dr.state == "failed" and states(dr)["build_subsets"] == {"failed"}


def test_flickr_download_without_its_list_fails(airflow_db, tmp_path):
    dr = load("flickr_cc", "flickr_cc_download").test(
        run_conf={"subset": "flickr-1M.tsv.gz", "root_dir": "", "short_side": 256, "quality": 75,
                  "output_root": str(tmp_path)})
    assert dr.state == "failed" and states(dr)["plan_shards"] == {"failed"}
    assert states(dr)["convert_to_mmap"] == {"upstream_failed"}
