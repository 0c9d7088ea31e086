"""The reports plugin, probed as a logged-in attacker would: it serves a run's report only to users the auth
manager lets read that DAG's runs, only the file the run's report task wrote (by its recorded SHA-256, never
by name or by a path or connection in the request), and always as a sandboxed page."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from visionflow_airflow.operators.report import RECORD_KEY, REPORTS_PREFIX
from visionflow_reports import CSP, VisionflowReportsPlugin, reports_app

ROOT = Path(__file__).resolve().parents[2]
EVIL = "<html><body><script>fetch('/api/v2/connections').then(r => r.text())</script>stolen</body></html>"


def test_plugin_mounts_the_app_and_registers_the_link():
    apps = VisionflowReportsPlugin.fastapi_apps
    assert apps[0]["url_prefix"] == REPORTS_PREFIX
    assert [link.name for link in VisionflowReportsPlugin.operator_extra_links] == ["Run report"]


def token(username: str, role: str | None, teams: list[str] | None = None) -> dict:
    """A real token of the configured (simple) auth manager, as its login page would issue."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    jwt = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role, teams=teams))
    return {"Authorization": f"Bearer {jwt}"}


def run_openimages(sample_source, output_root: str):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "openimages.py")).get_dag("openimages_v4")
    conf = {"metadata_url": sample_source.urls["openimages_metadata_url"],
            "boxable_url": sample_source.urls["openimages_boxable_url"], "output_root": output_root,
            "train_size": 8, "tarballs": False, "splits": ["train"]}
    dr = dag.test(run_conf=conf)
    assert dr.state == "success"
    return dr


def path_of(dr) -> str:
    report = next(t for t in dr.get_task_instances() if t.task_id == "report")
    return urlsplit(report.xcom_pull(task_ids="report", key="report_url")).path.removeprefix(REPORTS_PREFIX)


def record_of(dr) -> dict:
    report = next(t for t in dr.get_task_instances() if t.task_id == "report")
    return report.xcom_pull(task_ids="report", key=RECORD_KEY)


@pytest.fixture
def local_run(airflow_db, sample_source, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONFLOW_REPORT_ROOTS", str(tmp_path))
    out = tmp_path / "oi"
    return run_openimages(sample_source, str(out)), out


def test_a_run_report_is_served_sandboxed_to_a_viewer_and_to_nobody_else(local_run):
    dr, out = local_run
    path = path_of(dr)
    assert path == f"/runs/openimages_v4/{dr.run_id.replace(':', '%3A').replace('+', '%2B')}"
    client = TestClient(reports_app)
    page = client.get(path, headers=token("viewer", "viewer"))
    assert page.status_code == 200, page.text
    run_file = Path(record_of(dr)["uri"])
    assert page.content == run_file.read_bytes() and "data:image/png;base64," in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP and CSP.startswith("sandbox;")
    assert "script-src" not in CSP and "allow-scripts" not in CSP  # default-src 'none' covers scripts
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get(path).status_code == 401  # not logged in
    assert client.get(path, headers=token("nobody", None)).status_code == 403  # a user with no role

    # A run that does not exist, or whose DAG the path does not name, has no report.
    assert client.get("/runs/openimages_v4/manual__nope", headers=token("viewer", "viewer")).status_code == 404
    assert client.get(path.replace("openimages_v4", "kinetics"), headers=token("viewer", "viewer")).status_code == 404


def test_only_the_file_the_report_task_wrote_is_served(local_run):
    """A report.html that came from anywhere else (a dataset archive unpacked under the data root, the same
    file rewritten after the run) is never served, and no request names a file."""
    dr, out = local_run
    path, viewer = path_of(dr), token("viewer", "viewer")
    client = TestClient(reports_app)
    planted = out / "caltech101" / "report.html"  # as a dataset archive's member would land
    planted.parent.mkdir()
    planted.write_text(EVIL)
    for probe in (f"/{planted}", f"/{str(planted).lstrip('/')}", f"/{out / 'report.html'}",
                  f"/_s3/bucket/report-evil.html?conn=aws_default"):
        assert client.get(probe, headers=viewer).status_code == 404, probe
    run_file = Path(record_of(dr)["uri"])
    original = run_file.read_bytes()
    run_file.write_text(EVIL)  # replaced after the task wrote it
    refused = client.get(path, headers=viewer)
    assert refused.status_code == 404 and "changed after the run wrote it" in refused.text
    assert str(out) not in refused.text  # the message names the run, not where it lies on the api-server
    run_file.write_bytes(original)
    assert client.get(path, headers=viewer).status_code == 200


def test_a_report_outside_the_report_roots_is_not_served(local_run, monkeypatch, tmp_path_factory):
    dr, _ = local_run
    monkeypatch.setenv("VISIONFLOW_REPORT_ROOTS", str(tmp_path_factory.mktemp("elsewhere")))
    page = TestClient(reports_app).get(path_of(dr), headers=token("viewer", "viewer"))
    assert page.status_code == 404 and "VISIONFLOW_REPORT_ROOTS" in page.text


def test_a_user_of_another_team_is_refused(local_run):
    """The auth manager decides per DAG: with the DAGs' bundle owned by a team, its viewer reads the report
    and a viewer of another team gets 403 (Airflow's multi-team model, enforced by the simple auth manager)."""
    from airflow.models.dag import DagModel, clear_team_name_cache
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team
    from airflow.utils.session import create_session

    dr, _ = local_run
    with create_session() as session:
        bundle = session.get(DagBundleModel, session.get(DagModel, "openimages_v4").bundle_name)
        team = Team(name="imaging")
        session.add(team)
        bundle.teams.append(team)
    clear_team_name_cache()  # the api-server caches a DAG's team for a while; this one changed just now
    try:
        client, path = TestClient(reports_app), path_of(dr)
        assert client.get(path, headers=token("ana", "viewer", ["imaging"])).status_code == 200
        assert client.get(path, headers=token("eve", "viewer", ["video"])).status_code == 403
    finally:
        with create_session() as session:
            session.delete(session.get(Team, "imaging"))
        clear_team_name_cache()


def test_a_report_on_s3_is_read_with_the_runs_connection_never_one_in_the_request(airflow_db, sample_source,
                                                                                   s3_conn_env, tmp_path):
    """The run wrote with aws_default (moto); ``?conn=`` in the request changes nothing, and an object
    uploaded beside the report (report-evil.html) cannot be reached."""
    from visionflow_airflow.common import storage_for

    s3_conn_env.ensure_bucket("reports-test")
    root = f"s3://reports-test/{tmp_path.name}/oi"
    dr = run_openimages(sample_source, root)
    record = record_of(dr)
    assert record["uri"].startswith(root + "/reports/openimages/") and record["aws_conn_id"] == "aws_default"
    storage = storage_for(root, "aws_default")
    storage.write_text("report-evil.html", EVIL)
    client, viewer, path = TestClient(reports_app), token("viewer", "viewer"), path_of(dr)
    page = client.get(path, headers=viewer)
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    assert page.content == storage.read_bytes(record["uri"].removeprefix(root + "/"))
    assert client.get(path + "?conn=no_such_conn", headers=viewer).content == page.content
    bucket_key = f"reports-test/{tmp_path.name}/oi/report-evil.html"
    for probe in (f"/_s3/{bucket_key}?conn=aws_default", f"/_s3/{bucket_key}", f"/{bucket_key}"):
        assert client.get(probe, headers=viewer).status_code == 404, probe
    storage.write_text(record["uri"].removeprefix(root + "/"), EVIL)  # overwritten in the bucket
    assert client.get(path, headers=viewer).status_code == 404


def test_the_note_and_button_link_to_the_run_not_to_a_file(local_run):
    dr, _ = local_run
    report = next(t for t in dr.get_task_instances() if t.task_id == "report")
    url = report.xcom_pull(task_ids="report", key="report_url")
    assert re.fullmatch(r"http://[^/]+/visionflow/reports/runs/openimages_v4/[^/?]+", url), url
