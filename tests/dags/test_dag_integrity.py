"""Every DAG parses, and carries what an operator of this tool expects: tags, owner, retries, docs, and a
described trigger form."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_exist(dagbag):
    assert {"openimages_v4", "flickr_cc_crawl", "flickr_cc_subsets", "flickr_cc_download", "kinetics",
            "video_frames"} <= set(dagbag.dag_ids)


def test_every_dag_is_documented_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and "visionflow" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 100, dag_id
        for task in dag.tasks:
            assert task.owner == "visionflow", (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)


def test_every_param_is_described(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for name, param in dag.params.items():
            param = dag.params.get_param(name)
            schema = param.schema
            assert param.description or schema.get("description_md"), (dag_id, name)
            assert schema.get("title"), (dag_id, name)


def test_dag_files_parse_quickly_without_heavy_imports():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"DagBag(dag_folder={str(ROOT / 'dags')!r})\n"
        "heavy = [m for m in ('PIL', 'av', 'pyarrow', 'boto3', 'numpy.linalg', 'lxml', 'moto') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"})
    assert proc.returncode == 0, proc.stderr[-3000:]
