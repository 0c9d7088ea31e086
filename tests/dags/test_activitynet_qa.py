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


def test_malformed_rows_are_counted_bad_rows_and_good_rows_still_come_out(airflow_db, dag, sample_source, tmp_path):
    """Issue 28: a question without ``question``, an answer without ``answer`` and list or dict question ids
    crashed the plan (KeyError, TypeError) and failed the run after three tries. Each is one bad row now, with
    its reason, in the manifests, the report and the run report; the good question is written."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    questions = [
        {"video_name": "uqiMw7tQ1Cc", "question": "what happens", "question_id": "v_uqiMw7tQ1Cc_0"},
        {"video_name": "uqiMw7tQ1Cc", "question_id": "v_uqiMw7tQ1Cc_1"},
        {"video_name": "uqiMw7tQ1Cc", "question": "list id", "question_id": ["v_uqiMw7tQ1Cc", "2"]},
        {"video_name": "uqiMw7tQ1Cc", "question": "dict id", "question_id": {"id": 3}},
        {"video_name": "bXdq2zI1Ms0", "question": "what is shown", "question_id": "v_bXdq2zI1Ms0_0"},
        "not an object",
    ]
    answers = [
        {"answer": "riding", "type": 0, "question_id": "v_uqiMw7tQ1Cc_0"},
        {"answer": "yes", "type": 3, "question_id": "v_uqiMw7tQ1Cc_1"},
        {"type": 3, "question_id": "v_bXdq2zI1Ms0_0"},
        {"answer": "no", "type": 3, "question_id": ["v_uqiMw7tQ1Cc", "2"]},
    ]
    (inputs / "q.json").write_text(json.dumps(questions))
    (inputs / "a.json").write_text(json.dumps(answers))
    dr = dag.test(run_conf=conf(sample_source.urls, tmp_path / "data", questions_json=str(inputs / "q.json"),
                                answers_json=str(inputs / "a.json")))
    assert dr.state == "success"
    assert dr.get_task_instance("plan").try_number == 1
    rows = json.loads((tmp_path / "data/activitynet_qa_val_500_limit_3s.json").read_text())
    assert [(r["messages"][0]["content"], r["messages"][1]["content"]) for r in rows] == [
        ("<video>what happens?", "riding")]
    report = report_of(tmp_path / "data")
    assert report["bad_rows"]["count"] == 6
    reasons = {key: why.split(":")[0] for key, why in report["bad_rows"]["examples"].items()}
    assert reasons == {"questions_json entry 2": "bad_question", "questions_json entry 3": "bad_question_id",
                       "questions_json entry 4": "bad_question_id", "questions_json entry 6": "not_an_object",
                       "answers_json entry 3": "bad_answer", "answers_json entry 4": "bad_question_id"}
    # a question whose only answer is malformed has no answer: unmatched, its id quoted as given
    assert report["unmatched_questions"] == {"count": 1, "examples": ["v_bXdq2zI1Ms0_0"]}
    assert report["questions"] == 6
    # one manifest row per bad row, through the shard runner
    from include.visionflow.manifest import Status, read_manifest
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    storage = open_storage(str(tmp_path / "data"))
    specs = [ShardSpec.from_xcom(s) for s in dr.get_task_instance("plan").xcom_pull(task_ids="plan")]
    results = [r for s in specs for r in read_manifest(storage, s.manifest_rel)]
    bad = [r for r in results if r.status is Status.BAD_ROW]
    assert sorted(r.key for r in bad) == sorted(report["bad_rows"]["examples"])
    assert "['v_uqiMw7tQ1Cc', '2']" not in {r.key for r in results}
    assert summary_of(tmp_path / "data/report-activitynet_qa.html")["bad rows"] == "6"
