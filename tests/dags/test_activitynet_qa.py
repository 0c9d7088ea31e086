"""The activitynet_qa DAG end to end with dag.test() on the sample source's ActivityNet-QA files and videos."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.report.report_html import image_titled, read_report, summary_of

ROOT = Path(__file__).resolve().parents[2]


def conf(urls, data_dir, **extra):
    """Every param spelled out: in one process, dag.test() can carry a previous run's conf over as params."""
    return {"questions_json": urls["activitynet_qa_questions_url"], "answers_json": urls["activitynet_qa_answers_url"],
            "videos_dir": urls["activitynet_videos_dir"], "name": "val_q", "type": "val", "n": 500, "seconds": 3,
            "data_dir": str(data_dir), **extra}


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "activitynet_qa.py")).get_dag("activitynet_qa")


def report_of(data_dir: Path) -> dict:
    (path,) = data_dir.glob("_work/activitynet_qa/*/report.json")
    return json.loads(path.read_text())


def test_rows_filter_and_dataset_info(airflow_db, dag, sample_source, tmp_path):
    videos = Path(sample_source.urls["activitynet_videos_dir"])
    (tmp_path / "dataset_info.json").write_text(json.dumps({"caltech101": {"file_name": "caltech101.json"}}))
    dr = dag.test(run_conf=conf(sample_source.urls, tmp_path))
    assert dr.state == "success"
    rows = json.loads((tmp_path / "activitynet_qa_val_500_limit_3s.json").read_text())
    # In question order: the 2 s clip is too short, the missing and corrupt videos are skipped, the unanswered
    # question is dropped; the mkv and webm clips only have a container duration and are kept.
    assert [Path(r["videos"][0]).name for r in rows] == [
        "v_uqiMw7tQ1Cc.mp4", "v_uqiMw7tQ1Cc.mp4", "v_bXdq2zI1Ms0.mkv", "v_bXdq2zI1Ms0.mkv",
        "v_FsS_NCZEfaI.webm", "v_FsS_NCZEfaI.webm", "v_TIEzvhv6xaI.mp4"]
    assert rows[0] == {"messages": [{"content": "<video>what happens in part 0?", "role": "user"},
                                    {"content": "riding", "role": "assistant"}],
                       "videos": [str(videos.resolve() / "v_uqiMw7tQ1Cc.mp4")]}
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["caltech101"] == {"file_name": "caltech101.json"}
    assert info["activitynet_qa_val_500_limit_3s"] == {
        "file_name": "activitynet_qa_val_500_limit_3s.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}
    report = report_of(tmp_path)
    assert report["unmatched_questions"] == {"count": 1, "examples": ["v_TIEzvhv6xaI_1"]}
    assert report["missing_videos"] == {"count": 1, "examples": ["v_missing00001"]}
    assert report["too_short_videos"]["count"] == 1 and "v_shortclip01" in report["too_short_videos"]["examples"]
    assert report["unreadable_videos"]["count"] == 1
    assert report["duration_from"] == {"stream": 3, "container": 2}
    # The run report draws the same numbers; the card sits beside LLaMA-Factory's own README.md, not over it.
    latest = tmp_path / "report-activitynet_qa.html"
    shown = summary_of(latest)
    assert (shown["unmatched questions"], shown["missing videos"], shown["too-short videos"]) == ("1", "1", "1")
    assert shown["rows written"] == "7" and not (tmp_path / "README.md").exists()
    card = (tmp_path / "README-activitynet_qa.md").read_text()
    assert f"dataset: {report['entry']}" in card and f"`{report['entry']}.json`" in card
    assert "| `dataset_info.json` |" in card
    headings, images = read_report(latest)
    image_titled(images, "Questions and videos")
    image_titled(images, "Duration of kept videos (> 3 s)")


def test_stops_at_n(airflow_db, dag, sample_source, tmp_path):
    dr = dag.test(run_conf=conf(sample_source.urls, tmp_path, n=3, seconds=3.5))
    assert dr.state == "success"
    rows = json.loads((tmp_path / "activitynet_qa_val_3_limit_3.5s.json").read_text())
    assert [Path(r["videos"][0]).name for r in rows] == ["v_uqiMw7tQ1Cc.mp4"] * 2 + ["v_bXdq2zI1Ms0.mkv"]
    assert list(json.loads((tmp_path / "dataset_info.json").read_text())) == ["activitynet_qa_val_3_limit_3.5s"]


def test_a_failing_first_step_fails_the_run(airflow_db, dag, sample_source, tmp_path):
    dr = dag.test(run_conf=conf(sample_source.urls, tmp_path, videos_dir=str(tmp_path / "nowhere")))
    assert dr.state == "failed"
    assert not (tmp_path / "dataset_info.json").exists()
