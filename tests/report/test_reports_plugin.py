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
    for path in (root / "oi" / "secret.txt", outside, root / "oi" / "reports" / "run1" / ".." / ".." / "secret.txt",
                 root / "oi" / "missing" / "report.html"):
        with pytest.raises(HTTPException) as err:
            resolve_report(str(path), [root])
        assert err.value.status_code == 404


def test_plugin_mounts_the_app_and_registers_the_link():
    apps = VisionflowReportsPlugin.fastapi_apps
    assert apps[0]["url_prefix"] == REPORTS_PREFIX
    assert [link.name for link in VisionflowReportsPlugin.operator_extra_links] == ["Run report"]
