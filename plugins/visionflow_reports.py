"""Airflow plugin: serves each run's report from the api-server, and registers the "Run report" link.

``GET /visionflow/reports/runs/<dag_id>/<run_id>`` returns the report that run's report task wrote, for a user
the auth manager lets read that DAG's runs (the UI's session cookie or a Bearer token). Nothing in the request
says which file or which connection: both come from the record the report task pushed as an XCom (the
report's URI, its SHA-256 and, on S3, the task's own aws connection). The bytes served must still hash to
the recorded SHA-256, so a file that something else put there (a ``report.html`` unpacked from a dataset
archive, an S3 object uploaded beside the outputs) is never served, whatever its name.

The page is served as an untrusted document all the same: ``Content-Security-Policy: sandbox`` (no scripts,
an opaque origin, so it cannot act with the viewer's login), only inline styles and ``data:`` images (all a
self-contained report uses), and ``nosniff``. Error texts name the run, never a path on the api-server's disk.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import Response

from visionflow_airflow.operators.report import RECORD_KEY, REPORTS_PREFIX, RUNS_ROUTE, RunReportLink

ROOTS_ENV = "VISIONFLOW_REPORT_ROOTS"
# What a self-contained report needs (inline CSS, PNG data URIs) and nothing else; `sandbox` without
# allow-scripts / allow-same-origin is what keeps a hostile page from using the viewer's login.
CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "private, no-store"}


def allowed_roots() -> list[Path]:
    raw = os.environ.get(ROOTS_ENV) or os.getcwd()
    return [Path(p).resolve() for p in raw.split(os.pathsep) if p]


def _missing(dag_id: str, run_id: str, why: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no report for run {run_id!r} of DAG {dag_id!r}: {why}")


def report_record(dag_id: str, run_id: str) -> dict:
    """The record the run's report task pushed (the newest, should it have run twice)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id, key=RECORD_KEY, limit=1)).first()
        record = XComModel.deserialize_value(row) if row is not None else None
    if not isinstance(record, dict) or not record.get("uri") or not record.get("sha256"):
        raise _missing(dag_id, run_id, "its report task has not written one")
    return record


def _expected_shape(uri: str, run_id: str) -> bool:
    """The report task writes ``.../reports/<family>/<run>/report.html``; a record naming anything else
    (a hand-made XCom) is refused before any read."""
    from include.visionflow.report.publish import safe_run

    return re.search(rf"/reports/[A-Za-z0-9_.-]+/{re.escape(safe_run(run_id))}/report\.html$", uri) is not None


def read_report(record: dict, dag_id: str, run_id: str) -> bytes:
    """The report's bytes, read where the task wrote them (a local file below ``VISIONFLOW_REPORT_ROOTS``, or
    S3 through the task's own connection), and only if they are what it wrote."""
    from botocore.exceptions import BotoCoreError, ClientError

    from include.visionflow.errors import VisionflowError
    from visionflow_airflow.common import storage_for

    uri = str(record["uri"])
    if not _expected_shape(uri, run_id):
        raise _missing(dag_id, run_id, "the recorded report is not a run report")
    folder, _, name = uri.rpartition("/")
    if uri.startswith("s3://"):
        conn_id = str(record.get("aws_conn_id") or "aws_default")
        if not _has_connection(conn_id):  # never the api-server's own AWS credentials
            raise _missing(dag_id, run_id, f"the run's connection {conn_id!r} no longer exists")
        try:
            data = storage_for(folder, conn_id).read_bytes(name)
        except (VisionflowError, BotoCoreError, ClientError) as err:  # say why, never a secret
            raise _missing(dag_id, run_id, f"it cannot be read ({type(err).__name__})") from None
    else:
        path = Path(uri).resolve()
        if "://" in uri or not any(path.is_relative_to(r) for r in allowed_roots()):
            raise _missing(dag_id, run_id, f"reports are served from {ROOTS_ENV} folders only")
        try:
            data = path.read_bytes()
        except OSError:
            raise _missing(dag_id, run_id, "the file is gone") from None
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), str(record["sha256"])):
        raise _missing(dag_id, run_id, "the file was changed after the run wrote it")
    return data


def _has_connection(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


reports_app = FastAPI(title="visionflow run reports")


@reports_app.get(f"/{RUNS_ROUTE}/{{dag_id}}/{{run_id}}",
                 dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])
def run_report(dag_id: str, run_id: str) -> Response:
    # A plain def: the database and boto3 block, so FastAPI runs it in its thread pool.
    data = read_report(report_record(dag_id, run_id), dag_id, run_id)
    return Response(data, media_type="text/html; charset=utf-8", headers=HEADERS)


class VisionflowReportsPlugin(AirflowPlugin):
    name = "visionflow_reports"
    fastapi_apps = [{"app": reports_app, "url_prefix": REPORTS_PREFIX, "name": "visionflow run reports"}]
    operator_extra_links = [RunReportLink()]
