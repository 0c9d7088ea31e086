"""Airflow plugin: serves run reports over http(s) from the api-server, and registers the "Run report" link.

For a logged-in user (the UI's session cookie or a Bearer token):

* ``GET /visionflow/reports/<absolute path of a report>`` returns a local report, only when the path is a
  ``report.html`` (or a latest ``report-<dag>.html``) below one of the folders in ``VISIONFLOW_REPORT_ROOTS``
  (``os.pathsep``-separated; default: the api-server's working directory), so the endpoint never reads
  anything else;
* ``GET /visionflow/reports/_s3/<bucket>/<key of such a file>?conn=<aws_conn_id>`` returns a report
  whose output root is on S3, read through the project's S3 storage with that Airflow connection (the one
  the run wrote with), so the connection's own permissions bound what can be read; an unknown connection is
  refused (never the api-server's own AWS credentials).

Reports embed their images, so one file is the whole page.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from visionflow_airflow.operators.report import REPORTS_PREFIX, S3_ROUTE, RunReportLink

ROOTS_ENV = "VISIONFLOW_REPORT_ROOTS"
REPORT_NAME = re.compile(r"report(-[A-Za-z0-9_.-]+)?\.html")  # a run's report.html, a latest report-<dag>.html


def allowed_roots() -> list[Path]:
    raw = os.environ.get(ROOTS_ENV) or os.getcwd()
    return [Path(p).resolve() for p in raw.split(os.pathsep) if p]


def resolve_report(path: str, roots: list[Path]) -> Path:
    """The report file for ``path``; 404 for anything that is not an existing report under a root."""
    target = Path("/" + path.lstrip("/")).resolve()
    inside = any(target.is_relative_to(r) for r in roots)
    if not REPORT_NAME.fullmatch(target.name) or not inside or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no report at {target} (reports are served from "
                                                    f"{ROOTS_ENV} folders only)")
    return target


def _has_connection(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def read_s3_report(bucket: str, key: str, conn_id: str) -> bytes:
    """The bytes of ``s3://bucket/key`` read with connection ``conn_id``; 404 for anything that is not an
    existing report (or a key with ``..``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from include.visionflow.errors import VisionflowError
    from visionflow_airflow.common import storage_for

    parts = key.split("/")
    if not REPORT_NAME.fullmatch(parts[-1]) or ".." in parts or not bucket:
        raise HTTPException(status_code=404, detail=f"no report at s3://{bucket}/{key}")
    folder, _, name = key.rpartition("/")
    if not _has_connection(conn_id):  # never the api-server's own AWS credentials
        raise HTTPException(status_code=404, detail=f"no Airflow connection {conn_id!r} to read s3://{bucket}/")
    try:
        storage = storage_for(f"s3://{bucket}/{folder}", conn_id)
        if storage.exists(name):
            return storage.read_bytes(name)
    except (VisionflowError, BotoCoreError, ClientError) as err:  # cannot read there: say so, no secrets
        raise HTTPException(status_code=404, detail=f"cannot read s3://{bucket}/{key} with connection "
                                                    f"{conn_id!r}: {type(err).__name__}") from None
    raise HTTPException(status_code=404, detail=f"no report at s3://{bucket}/{key}")


async def _logged_in(request: Request):
    from airflow.api_fastapi.core_api.security import get_user

    bearer = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        from fastapi.security import HTTPAuthorizationCredentials

        bearer = HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:])
    return await get_user(request, None, bearer)


reports_app = FastAPI(title="visionflow run reports")


@reports_app.get(f"/{S3_ROUTE}/{{bucket}}/{{key:path}}")
def s3_report(bucket: str, key: str, conn: str = "aws_default", user=Depends(_logged_in)) -> HTMLResponse:
    # A plain def: boto3 blocks, so FastAPI runs it in its thread pool.
    return HTMLResponse(read_s3_report(bucket, key, conn))


@reports_app.get("/{path:path}")
async def report(path: str, user=Depends(_logged_in)) -> FileResponse:
    return FileResponse(resolve_report(path, allowed_roots()), media_type="text/html")


class VisionflowReportsPlugin(AirflowPlugin):
    name = "visionflow_reports"
    fastapi_apps = [{"app": reports_app, "url_prefix": REPORTS_PREFIX, "name": "visionflow run reports"}]
    operator_extra_links = [RunReportLink()]
