"""Test environment: a private AIRFLOW_HOME set before anything imports Airflow, the sample source, and
the project on sys.path, exactly as the README's commands set them."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="visionflow-airflow-"))

os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
    "VISIONFLOW_ALLOW_PRIVATE_NETWORKS": "1",
    # Tests and the sample source keep their local inputs in temp folders.
    "VISIONFLOW_INPUT_DIRS": tempfile.gettempdir(),
})
for path in (str(ROOT), str(ROOT / "plugins")):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh metadata DB for dag.test() runs (SQLite in the private AIRFLOW_HOME)."""
    from airflow.utils import db

    db.resetdb()
    return _HOME


@pytest.fixture(scope="session")
def sample_source(tmp_path_factory):
    """The sample source with every catalogue mounted, on 127.0.0.1."""
    from include.sample_source.server import SampleSource

    source = SampleSource(tmp_path_factory.mktemp("sample-source")).start()
    yield source
    source.stop()


@pytest.fixture
def s3_conn_env(sample_source, monkeypatch):
    """The Airflow ``aws_default`` connection pointed at the sample source's moto S3."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", sample_source.s3.connection_json())
    return sample_source.s3
