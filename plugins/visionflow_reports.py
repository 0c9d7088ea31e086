"""Airflow plugin: serves run reports over http(s) from the api-server, and registers the "Run report" link.

``GET /visionflow/reports/<absolute path of a report.html>`` returns the file, for a logged-in user (the
UI's session cookie or a Bearer token), only when the path is a ``report.html`` below one of the folders in
``VISIONFLOW_REPORT_ROOTS`` (``os.pathsep``-separated; default: the api-server's working directory), so the
endpoint never reads anything else. Reports embed their images, so one file is the whole page.
"""
from __future__ import annotations

import os
from pathlib import Path

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse

from visionflow_airflow.operators.report import REPORTS_PREFIX, RunReportLink

ROOTS_ENV = "VISIONFLOW_REPORT_ROOTS"


def allowed_roots() -> list[Path]:
    raw = os.environ.get(ROOTS_ENV) or os.getcwd()
    return [Path(p).resolve() for p in raw.split(os.pathsep) if p]


def resolve_report(path: str, roots: list[Path]) -> Path:
    """The report file for ``path``; 404 for anything that is not an existing report.html under a root."""
    target = Path("/" + path.lstrip("/")).resolve()
    if target.name != "report.html" or not any(target.is_relative_to(r) for r in roots) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no report at {target} (reports are served from "
                                                    f"{ROOTS_ENV} folders only)")
    return target


async def _logged_in(request: Request):
    from airflow.api_fastapi.core_api.security import get_user

    bearer = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        from fastapi.security import HTTPAuthorizationCredentials

        bearer = HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:])
    return await get_user(request, None, bearer)


reports_app = FastAPI(title="visionflow run reports")


@reports_app.get("/{path:path}")
async def report(path: str, user=Depends(_logged_in)) -> FileResponse:
    return FileResponse(resolve_report(path, allowed_roots()), media_type="text/html")


class VisionflowReportsPlugin(AirflowPlugin):
    name = "visionflow_reports"
    fastapi_apps = [{"app": reports_app, "url_prefix": REPORTS_PREFIX, "name": "visionflow run reports"}]
    operator_extra_links = [RunReportLink()]
