"""The last step of every visionflow DAG: the run's ``report.html`` and the output root's dataset card.

It runs as a teardown (``as_teardown()`` in the DAGs): whatever happened upstream it writes the report, yet
the run's state still comes from the data-producing tasks, so a run whose download failed still ends failed.
The report's path is logged, and the task pushes a record of what it wrote (the report's URI, SHA-256 and
the aws connection it wrote with): the ``visionflow_reports`` plugin serves that file and nothing else at
the run's link, which becomes the task's "Run report" button and, when the ``visionflow_api`` connection holds
a login, the run's note.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Sequence
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink
from airflow.sdk.bases.xcom import BaseXCom

from visionflow_airflow.common import VisionflowOperator, is_set

log = logging.getLogger(__name__)

API_CONN_ID = "visionflow_api"
REPORTS_PREFIX = "/visionflow/reports"
RUNS_ROUTE = "runs"
XCOM_KEY = "report_url"
RECORD_KEY = "report_record"  # {"uri", "sha256", "aws_conn_id"}: what the plugin may serve for the run


class RunReportLink(BaseOperatorLink):
    """The "Run report" button of the report task: the URL pushed by the task."""

    name = "Run report"

    def get_link(self, operator, *, ti_key) -> str:
        return BaseXCom.get_value(ti_key=ti_key, key=XCOM_KEY) or ""


def api_base_url() -> str:
    """Where the api-server answers, as a browser sees it: ``[api] base_url``, else host and port."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="") or ""
    if base.startswith(("http://", "https://")):
        return base.rstrip("/")
    host = conf.get("api", "host", fallback="127.0.0.1")
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://{host}:{conf.get('api', 'port', fallback='8080')}"


def report_url(dag_id: str, run_id: str) -> str:
    """The http(s) URL the plugin serves a run's report at (it finds the file from the run's record)."""
    return f"{api_base_url()}{REPORTS_PREFIX}/{RUNS_ROUTE}/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"


def set_run_note(dag_id: str, run_id: str, note: str, conn_id: str = API_CONN_ID) -> bool:
    """PATCH the run's note through the REST API with the login of connection ``conn_id`` (tasks cannot
    write run notes through the Execution API). False, with the reason logged, when that is not possible."""
    import requests
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("no connection %r: the run's note is not set (the report link is on this task)", conn_id)
        return False
    base = (f"{conn.schema or 'http'}://{conn.host}:{conn.port}" if conn.port else
            (conn.host if "://" in (conn.host or "") else f"http://{conn.host}")).rstrip("/")
    session = requests.Session()
    session.trust_env = False
    try:
        token = session.post(f"{base}/auth/token", json={"username": conn.login, "password": conn.password},
                             timeout=20)
        token.raise_for_status()
        session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        resp = session.patch(f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
                             params={"update_mask": "note"}, json={"note": note}, timeout=20)
        resp.raise_for_status()
    except requests.RequestException as err:
        log.warning("could not set the run's note through %s: %s", base, err)
        return False
    return True


class WriteRunReportOperator(VisionflowOperator):
    """Write ``reports/<family>/<run>/report.html``, the latest copy (``report.html`` or ``report-<dag>.html``)
    and, where the family has one, the card ``README.md`` in ``output_root`` (``include.visionflow.report.publish``).

    :param family: a key of ``include.visionflow.report.families.FAMILIES``
    :param output_root: the run's output root (templated)
    :param options: extra keyword arguments of the family's report function (templated)
    :param images_root: where the family's images or frames are, when not in ``output_root``
        (``flickr_download``: empty = output_root; ``video_retrieval``: the frames root) (templated)
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "options", "images_root")
    operator_extra_links = (RunReportLink(),)

    def __init__(self, *, family: str, options: Any = None, images_root: Any = "", api_conn_id: str = API_CONN_ID,
                 **kwargs):
        super().__init__(**kwargs)
        self.family, self.options, self.images_root, self.api_conn_id = family, options, images_root, api_conn_id

    def run(self, context) -> dict:
        from include.visionflow.report.families import FAMILIES

        # An empty link until the report exists: Airflow evaluates the "Run report" link when the task ends,
        # failed or not, and a missing XCom made its API client log an error beside the task's real one.
        context["ti"].xcom_push(key=XCOM_KEY, value="")
        storage = self.storage()
        options = dict(self.options or {})
        if is_set(self.images_root) or self.family == "flickr_download":
            options["images"] = self.storage(self.images_root if is_set(self.images_root) else None)
        uri = FAMILIES[self.family](storage, run_id=context["run_id"], **options)
        folder, _, name = uri.rpartition("/")
        digest = hashlib.sha256(self.storage(folder).read_bytes(name)).hexdigest()
        context["ti"].xcom_push(key=RECORD_KEY, value={
            "uri": uri, "sha256": digest, "aws_conn_id": self.aws_conn_id if uri.startswith("s3://") else ""})
        dag_run = context["dag_run"]
        url = report_url(dag_run.dag_id, dag_run.run_id)
        context["ti"].xcom_push(key=XCOM_KEY, value=url)
        note = f"[Run report]({url})\n\n`{uri}`"
        set_run_note(dag_run.dag_id, dag_run.run_id, note, self.api_conn_id)
        self.log.info("report written: %s (open %s)", uri, url)
        return {"report": uri, "url": url, "card": storage.uri("README.md")}
