"""Issue 24: a finished run leaves no temp folder in any output root it wrote (``make demo`` left
``openimages/.tmp``, ``flickr_cc/.tmp`` and ``adaclip/frames/msrvtt/.tmp``), with dag.test() runs of the demo's
DAGs against the sample source."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def dag_of(module: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / module)).get_dag(dag_id)


def temp_folders(*roots: Path) -> list[str]:
    return sorted(str(p) for root in roots for p in root.rglob(".tmp"))


def test_openimages_leaves_no_temp_folder(airflow_db, sample_source, tmp_path):
    out = tmp_path / "openimages"
    urls = sample_source.urls
    dr = dag_of("openimages.py", "openimages_v4").test(run_conf={
        "metadata_url": urls["openimages_metadata_url"], "boxable_url": urls["openimages_boxable_url"],
        "output_root": str(out), "train_size": 8, "tarballs": False})
    assert dr.state == "success"
    assert temp_folders(out) == []


def test_flickr_crawl_subsets_and_download_leave_no_temp_folder(airflow_db, sample_source, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_FLICKR_DEFAULT", sample_source.urls["flickr_conn_json"])
    out = tmp_path / "flickr_cc"
    crawl = dag_of("flickr_cc.py", "flickr_cc_crawl").test(run_conf={"date": "2021-06-01", "output_root": str(out)})
    assert crawl.state == "success"
    assert temp_folders(out) == []
    subsets = dag_of("flickr_cc.py", "flickr_cc_subsets").test(
        run_conf={"output_root": str(out), "sizes": [0.00001], "seed": 0})
    assert subsets.state == "success"
    images = tmp_path / "flickr_images"  # root_dir: images in a root of their own, as a user may keep them
    download = dag_of("flickr_cc.py", "flickr_cc_download").test(
        run_conf={"output_root": str(out), "subset": "flickr-10.tsv.gz", "short_side": 64, "root_dir": str(images)})
    assert download.state == "success"
    assert len(list(images.rglob("*.jpg"))) == 10
    assert temp_folders(out, images) == []


TASK = """
import sys, time
from visionflow_airflow.common import VisionflowOperator

class StageOneFile(VisionflowOperator):
    def run(self, context):
        self.storage().write_text("out.txt", "written through this process's staging folder")

StageOneFile(task_id="stage", output_root=sys.argv[1]).execute({})
print("succeeded", flush=True)  # where the task runner tells Airflow, and runs finalize() before exiting
sys.stdin.read()
"""


def test_a_task_leaves_no_temp_folder_while_its_process_finishes(tmp_path):
    """Airflow marks a task successful before its process exits (the task runner sends SucceedTask, then
    runs finalize: callbacks, listeners), so the next task, the run's report, may start meanwhile and
    must not find the finished task's folder: a live process's, which the report has to keep."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    proc = subprocess.Popen([sys.executable, "-c", TASK, str(tmp_path)], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        lines = iter(proc.stdout.readline, "")
        assert "succeeded" in (line.strip() for line in lines)  # Airflow warns first: execute() outside a runner
        assert (tmp_path / "out.txt").exists()
        assert temp_folders(tmp_path) == []
    finally:
        proc.kill()
        proc.wait()


def test_video_retrieval_leaves_no_temp_folder_in_the_data_or_frames_root(airflow_db, sample_source, tmp_path):
    urls = sample_source.urls
    data = tmp_path / "adaclip"
    dr = dag_of("video_retrieval.py", "video_retrieval").test(run_conf={
        "dataset": "msrvtt", "videos_url": urls["msrvtt_videos_url"], "videos_dir": "",
        "annotations_url": urls["msrvtt_annotations_url"], "splits_url": "", "data_root": str(data),
        "frames_dir": "", "frame_rate": 1, "frame_size": 32})
    assert dr.state == "success"
    assert (data / "frames" / "msrvtt" / "video0").is_dir()
    assert temp_folders(data) == []
