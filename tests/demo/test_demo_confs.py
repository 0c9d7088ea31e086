"""The demo's conf table stays in step with the DAGs: every entry names an existing DAG, and the conf it
builds from the real sample source passes that DAG's Param validation (what `airflow dags trigger` checks)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from include.demo.confs import DEMO_RUNS, MissingCatalog, connections

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_demo_run_names_a_dag(dagbag):
    assert set(DEMO_RUNS) <= set(dagbag.dag_ids)
    for spec in DEMO_RUNS.values():
        assert spec.after is None or spec.after in DEMO_RUNS


@pytest.mark.parametrize("dag_id", list(DEMO_RUNS))
def test_demo_conf_validates_against_the_dag_params(dagbag, sample_source, tmp_path, dag_id):
    conf = DEMO_RUNS[dag_id].build(sample_source.urls, tmp_path)
    params = copy.deepcopy(dagbag.dags[dag_id].params)
    unknown = set(conf) - set(params.keys())
    assert not unknown, f"{dag_id} has no params {unknown}"
    params.update(conf)
    params.validate()


def test_missing_catalogue_is_reported_not_raised_as_keyerror(tmp_path):
    with pytest.raises(MissingCatalog, match="openimages_metadata_url"):
        DEMO_RUNS["openimages_v4"].build({}, tmp_path)


def test_connections_point_at_the_sample_source(sample_source):
    env = connections(sample_source.urls)
    assert sample_source.urls["s3_endpoint"] in env["AIRFLOW_CONN_AWS_DEFAULT"]
    assert env["AIRFLOW_CONN_OPENIMAGES_S3"] == env["AIRFLOW_CONN_AWS_DEFAULT"]
    assert sample_source.base_url.split("://")[1].split(":")[0] in env["AIRFLOW_CONN_FLICKR_DEFAULT"]
