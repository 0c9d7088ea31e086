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


# -- the compose file against the Compose Specification, and its secrets ------------------------------------
SECRETS = ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD",
           "POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD", "MINIO_ROOT_USER")
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def interpolate(text: str, env: dict[str, str]) -> str:
    """What `docker compose config` does to ${VAR}, ${VAR:-default} and ${VAR:?error}; a required variable
    missing from ``env`` is an error naming it, as compose reports it."""
    def value(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"required variable {name} is missing a value: {arg}")
        return arg if op else ""

    return VARIABLE.sub(value, text).replace("$$", "$")


def validate(document: dict) -> None:
    import jsonschema

    from tests.distributed.compose_schema import COMPOSE_SCHEMA

    jsonschema.Draft7Validator(COMPOSE_SCHEMA).validate(document)


def test_compose_file_follows_the_compose_specification(compose):
    validate(compose)
    document = yaml.safe_load(interpolate((ROOT / "docker-compose.yaml").read_text(), env_example()))
    validate(document)
    import jsonschema

    typo = {**document, "services": {**document["services"], "broken": {"image": "x", "healtcheck": {}}}}
    with pytest.raises(jsonschema.ValidationError, match="healtcheck"):
        validate(typo)  # the schema is strict: a misspelt key fails as compose would


def test_compose_refuses_to_start_without_the_secrets():
    text = (ROOT / "docker-compose.yaml").read_text()
    used = {m.group(1) for m in VARIABLE.finditer(text)}
    assert set(SECRETS) <= used
    for match in VARIABLE.finditer(text):
        if match.group(1) in SECRETS:
            assert match.group(2) == ":?", f"{match.group(0)}: a secret must be required, never defaulted"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(text, {k: v for k, v in env_example().items() if k != "POSTGRES_PASSWORD"})
    assert "FERNET_KEY: ''" not in text and "admin:admin@" not in text and "airflow:airflow@" not in text
    assert set(used) <= set(env_example()) | {"AIRFLOW_PROJ_DIR"}, "document every variable in .env.example"


def test_env_example_holds_no_working_secret():
    example = env_example()
    for name in SECRETS[:-1]:
        assert "change-me" in example[name], f"{name} in .env.example must be a placeholder"
    init = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]["airflow-init"]["command"][1]
    assert "change-me" in init and "AIRFLOW_FERNET_KEY" in init  # airflow-init refuses placeholders
    assert re.search(r"^\.env$", (ROOT / ".gitignore").read_text(), re.M)


def test_compose_has_minio_with_its_bucket_and_the_connection(compose):
    services = compose["services"]
    assert {"minio", "minio-init", "airflow-triggerer"} <= set(services)
    assert "mc mb --ignore-existing" in services["minio-init"]["command"][1]
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    env = services["airflow-worker"]["environment"]
    conn = env["AIRFLOW_CONN_AWS_DEFAULT"]
    assert '"endpoint_url": "http://minio:9000"' in conn and "MINIO_ROOT_PASSWORD" in conn
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:${REDIS_PASSWORD")
    assert services["airflow-worker"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    assert "--requirepass" in " ".join(services["redis"]["command"])


def test_init_creates_the_flickr_pool(compose):
    import json

    init = compose["services"]["airflow-init"]["command"][1]
    assert "airflow pools import /opt/airflow/include/pools.json" in init
    assert json.loads((ROOT / "include" / "pools.json").read_text())["flickr_api"]["slots"] >= 2
