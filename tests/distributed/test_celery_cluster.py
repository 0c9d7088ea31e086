"""A real distributed run: Airflow on PostgreSQL with CeleryExecutor (Redis broker) and a Celery worker, all
as separate processes on 127.0.0.1, running ``openimages_v4`` against the sample source with its output on
S3 (moto's server). Asserts the run succeeded, the objects exist in S3, and the tasks ran on the worker.

Private state only: a fresh database ``visionflow_ci_<random>`` (dropped at the end), an empty Redis db
number (flushed at the end), a temporary AIRFLOW_HOME; every process is stopped by PID in a finally block.
"""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

from include.demo import airflow_procs as ap


PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DBS = range(8, 16)  # db numbers this test may take; it uses the first empty one
BUCKET = "visionflow-ci"
DAG_ID = "openimages_v4"
RUN_TIMEOUT = 180


@pytest.fixture
def postgres_db():
    import psycopg2

    name = f"visionflow_ci_{secrets.token_hex(4)}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_db():
    import redis

    for number in REDIS_DBS:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if client.dbsize() == 0:
            break
    else:
        pytest.fail(f"no empty Redis db among {list(REDIS_DBS)} on {REDIS_HOST}:{REDIS_PORT}")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        client.flushdb()
        client.close()


def _cluster_env(home: Path, api_port: int, db_url: str, broker: str, s3_conn: str) -> dict[str, str]:
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    return ap.airflow_env(home, api_port, {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db_url.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        # Components of a cluster share no AIRFLOW_HOME in general: give them the secrets explicitly.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW_CONN_AWS_DEFAULT": s3_conn,
        "AIRFLOW_CONN_OPENIMAGES_S3": s3_conn,
        "VISIONFLOW_ALLOW_PRIVATE_NETWORKS": "1",
    })


def _start_cluster(procs: ap.Procs, env: dict[str, str], api_port: int, home: Path) -> ap.RestClient:
    ap.run_airflow(["db", "migrate"], env, home / "logs" / "cli.log")
    worker = ["celery", "worker", "--skip-serve-logs", "--concurrency", "2"]
    api = ap.start_components(procs, env, api_port, [("celery-worker", worker)], timeout=120)
    ap.poll(lambda: procs.check_alive() or DAG_ID in api.dags(), 120, f"{DAG_ID} to be parsed", interval=2)
    return api


def _s3_keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _logs(log_dir: Path) -> str:
    return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(log_dir.glob("*.log")))


@pytest.mark.slow
def test_openimages_on_celery_cluster(tmp_path, postgres_db, redis_db, sample_source):
    s3 = sample_source.s3.ensure_bucket(BUCKET)
    home = tmp_path / "airflow"
    home.mkdir()
    api_port = ap.free_port()
    env = _cluster_env(home, api_port, postgres_db, redis_db, sample_source.s3.connection_json())
    procs = ap.Procs(log_dir=tmp_path / "logs")
    try:
        api = _start_cluster(procs, env, api_port, tmp_path)
        conf = {
            "metadata_url": sample_source.urls["openimages_metadata_url"],
            "boxable_url": sample_source.urls["openimages_boxable_url"],
            "output_root": f"s3://{BUCKET}/openimages",
            "splits": ["train"],
            "train_size": 6,
            "thumbnail_size": 128,
            "tarballs": True,
        }
        run = api.post(f"dags/{DAG_ID}/dagRuns", {"logical_date": None, "dag_run_id": "ci_celery", "conf": conf})
        states = api.wait_runs({DAG_ID: run["dag_run_id"]}, RUN_TIMEOUT, on_tick=procs.check_alive)
        tis = api.task_instances(DAG_ID, run["dag_run_id"])
        assert states[DAG_ID] == "success", f"run ended {states}; tasks {[(t['task_id'], t['state']) for t in tis]}" \
                                            f"\n{_logs(procs.log_dir)}"

        # Every task ran through Celery: the default queue, and the worker received each one.
        worker_log = (procs.log_dir / "celery-worker.log").read_text(errors="replace")
        ran = [t for t in tis if t["state"] == "success"]
        assert ran and all(t["queue"] == "default" and t["hostname"] for t in ran)
        received = re.findall(r"execute_workload\[[^\]]+\] received", worker_log)
        assert len(received) >= len(ran), worker_log[-3000:]

        # The outputs are objects in (moto's) S3, not local files.
        images = [k for k in _s3_keys(s3, "openimages/train/images/") if k.endswith(".jpg")]
        summary = json.loads(s3.get_object(Bucket=BUCKET, Key="openimages/train/summary.json")["Body"].read())
        assert summary["counts"]["ok"] == len(images) > 0
        assert {k.rsplit("/", 1)[1] for k in _s3_keys(s3, "openimages/")} >= {"validation.zip"}
    finally:
        procs.stop()
