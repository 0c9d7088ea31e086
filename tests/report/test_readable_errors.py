"""A missing local input says "not found" (not a refused URL), naming the param."""
from __future__ import annotations

import pytest

from include.visionflow.datasets import openimages as oi
from include.visionflow.errors import BadInputError
from include.visionflow.fetch.http import Fetcher
from include.visionflow.storage import open_storage


@pytest.mark.parametrize("missing", ["data/nowhere/meta.csv", "./meta.csv", "{root}/meta.csv"])
def test_missing_local_metadata_is_not_found(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("VISIONFLOW_INPUT_DIRS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    storage = open_storage(str(tmp_path / "out"))
    with pytest.raises(BadInputError) as err:
        oi.fetch_metadata(storage, missing.format(root=tmp_path), oi.METADATA_REL, Fetcher())
    assert "not found" in str(err.value) and "metadata" in str(err.value)


def test_plain_cli_trigger_prints_one_line_for_a_bad_param(tmp_path):
    """The real ``airflow dags trigger`` in a subprocess, with ``config/`` on the path as compose mounts it
    at ``$AIRFLOW_HOME/config``: a refused param is a short message naming the param and the rule, exit 1;
    ``VISIONFLOW_TRACEBACK=1`` gives the traceback back."""
    import subprocess
    from pathlib import Path

    from include.demo.airflow_procs import airflow_cmd, airflow_env, free_port

    root = Path(__file__).resolve().parents[2]
    env = airflow_env(tmp_path, free_port(), {"AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags" / "flickr_cc.py"),
                                              "PYTHONPATH": f"{root}:{root / 'config'}"})
    env.pop("VISIONFLOW_TRACEBACK", None)

    def airflow(*args, **extra):
        return subprocess.run(airflow_cmd(*args), env={**env, **extra}, capture_output=True, text=True,
                              timeout=300)

    for setup in (("db", "migrate"), ("dags", "reserialize")):
        assert airflow(*setup).returncode == 0, setup
    bad = ("dags", "trigger", "flickr_cc_crawl", "--conf", '{"date": "2021-13-45"}')
    refused = airflow(*bad)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert ("airflow: the run was not created: Invalid input for param date: '2021-13-45' is not a 'date' "
            "(Failed validating 'format' in schema)") in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 3, refused.stderr
    verbose = airflow(*bad, VISIONFLOW_TRACEBACK="1")
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr and "ParamValidationError" in verbose.stderr
