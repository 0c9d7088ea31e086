"""The reports plugin serves report.html files below the allowed roots and nothing else."""
from __future__ import annotations

import pytest
from fastapi import HTTPException

from visionflow_reports import VisionflowReportsPlugin, resolve_report
from visionflow_airflow.operators.report import REPORTS_PREFIX


def test_only_report_html_below_a_root_is_served(tmp_path):
    root = tmp_path / "data"
    report = root / "oi" / "reports" / "run1" / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text("<html></html>")
    (root / "oi" / "secret.txt").write_text("x")
    outside = tmp_path / "elsewhere" / "report.html"
    outside.parent.mkdir()
    outside.write_text("<html></html>")
    assert resolve_report(str(report).lstrip("/"), [root]) == report
    latest = root / "flickr" / "report-flickr_cc_crawl.html"  # a latest copy where DAGs share a root
    latest.parent.mkdir()
    latest.write_text("<html></html>")
    assert resolve_report(str(latest), [root]) == latest
    (root / "oi" / "report-x.html.txt").write_text("x")
    for path in (root / "oi" / "secret.txt", root / "oi" / "report-x.html.txt", outside, root / "oi" / "reports" / "run1" / ".." / ".." / "secret.txt",
                 root / "oi" / "missing" / "report.html"):
        with pytest.raises(HTTPException) as err:
            resolve_report(str(path), [root])
        assert err.value.status_code == 404


def test_plugin_mounts_the_app_and_registers_the_link():
    apps = VisionflowReportsPlugin.fastapi_apps
    assert apps[0]["url_prefix"] == REPORTS_PREFIX
    assert [link.name for link in VisionflowReportsPlugin.operator_extra_links] == ["Run report"]


@pytest.fixture
def bearer(airflow_db):
    """A real token of the configured auth manager (the api-server checks it against the metadata DB)."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    return {"Authorization": f"Bearer {token}"}


def test_a_report_on_s3_is_served_through_the_connection(s3_conn_env, bearer):
    """The run note's link for an s3:// output root, followed: the report comes back, read with aws_default
    (moto); only report.html keys are read."""
    from fastapi.testclient import TestClient

    from include.visionflow.report.publish import publish
    from visionflow_airflow.common import storage_for
    from visionflow_airflow.operators.report import report_url
    from visionflow_reports import reports_app

    s3_conn_env.ensure_bucket("reports-test")
    storage = storage_for("s3://reports-test/plugin-test/oi", "aws_default")
    storage.write_text("secret.txt", "not a report")
    uri = publish(storage, "On S3", "manual__2026-01-01T00:00:00+00:00", "openimages", notes=["from S3"])
    assert uri.startswith("s3://")
    url = report_url(uri, "aws_default")
    path = url.split(REPORTS_PREFIX, 1)[1]
    assert path.startswith("/_s3/") and path.endswith("/report.html?conn=aws_default")
    client = TestClient(reports_app)
    page = client.get(path, headers=bearer)
    assert page.status_code == 200 and "from S3" in page.text and page.headers["content-type"].startswith("text/html")
    assert client.get(path).status_code == 401  # not logged in
    base = path.split("/reports/", 1)[0]
    for other in (f"{base}/secret.txt", f"{base}/reports/../secret.txt", f"{base}/missing/report.html",
                  path.replace("/report.html", "/x/report.html"), path.replace("aws_default", "no_such_conn")):
        assert client.get(other, headers=bearer).status_code == 404, other
