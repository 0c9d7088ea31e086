"""docker-compose.yaml and Dockerfile, checked without a Docker daemon: the compose file parses, runs every
Airflow 3 component on CeleryExecutor from the project's image, and mounts/configures the project the way the
README's commands do."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_compose_has_every_service(compose):
    assert set(compose["services"]) >= {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES}


@pytest.mark.parametrize("service,command", sorted(AIRFLOW_SERVICES.items()))
def test_airflow_service_runs_project_image_on_celery(compose, service, command):
    svc = compose["services"][service]
    env = svc["environment"]
    assert svc["command"] == command
    assert svc["build"] == "."
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["PYTHONPATH"] == "/opt/airflow"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/airflow/plugins"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    mounts = {v.rsplit(":", 1)[1] for v in svc["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
    assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_published_ports_are_loopback_only(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_init_migrates_and_writes_login(compose):
    init = compose["services"]["airflow-init"]
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert "passwords.json" in init["command"][1]
    assert init["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].endswith("passwords.json")


def test_dockerfile_builds_on_airflow_332_with_constraints():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2(-python3\.11)?\s*$", text, re.M)
    pip = next(line for line in text.replace("\\\n", " ").splitlines() if "pip install" in line)
    assert "-r /opt/visionflow/requirements.txt" in pip and "-c /opt/visionflow/constraints.txt" in pip
    assert "ENV PYTHONPATH=/opt/airflow" in text
    for folder in ("dags", "plugins", "include"):
        assert f"COPY --chown=airflow:0 {folder}/ /opt/airflow/{folder}/" in text


def test_image_and_requirements_pin_the_same_airflow():
    reqs = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^apache-airflow\[[^\]]*celery[^\]]*\]==3\.3\.2$", reqs, re.M)
    assert re.search(r"^celery\[redis\][^\n]*<5\.7", reqs, re.M)
