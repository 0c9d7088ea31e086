"""The report step of the DAGs (dag.test against the sample source): written next to the outputs, numbers
equal to summary.json, and a teardown that never turns a failed run green."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load(dag_file: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / dag_file)).get_dag(dag_id)


def oi_conf(sample_source, out, **extra):
    return {"metadata_url": sample_source.urls["openimages_metadata_url"],
            "boxable_url": sample_source.urls["openimages_boxable_url"], "output_root": str(out),
            "train_size": 8, "tarballs": False, **extra}


def cell(text: str, group: str, status: str) -> int:
    found = re.search(rf'data-group="{group}" data-status="{status}">(\d+)<', text)
    return int(found.group(1)) if found else 0


def test_openimages_report_matches_summary_and_card_is_written(airflow_db, sample_source, tmp_path):
    out = tmp_path / "oi"
    dr = load("openimages.py", "openimages_v4").test(run_conf=oi_conf(sample_source, out))
    assert dr.state == "success"
    states = {t.task_id: t.state for t in dr.get_task_instances()}
    assert states["report"] == "success"
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dr.run_id)
    report = out / "reports" / "openimages" / safe / "report.html"
    text = report.read_text()
    assert (out / "report.html").read_text() == text
    for split in ("train", "extended_targets"):
        summary = json.loads((out / split / "summary.json").read_text())
        for status, n in summary["counts"].items():
            assert cell(text, split, status) == n, (split, status)
    assert text.count("data:image/png;base64,") >= 4
    card = (out / "README.md").read_text()
    assert "Attribution" in card or "attribution" in card
    assert "`train/summary.json`" in card
    assert not (out / ".tmp").exists()  # the last step leaves no empty staging folder


def test_a_failed_run_still_gets_its_report_and_stays_failed(airflow_db, sample_source, tmp_path):
    out = tmp_path / "bad"
    conf = {**oi_conf(sample_source, out), "metadata_url": sample_source.urls["openimages_bad_metadata_url"]}
    dr = load("openimages.py", "openimages_v4").test(run_conf=conf)
    assert dr.state == "failed"
    states = {t.task_id: t.state for t in dr.get_task_instances()}
    assert states["fetch_metadata"] == "failed" and states["report"] == "success"
    assert (out / "report.html").is_file()
