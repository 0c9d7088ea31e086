"""The consumers test group: outputs of dag.test() runs read by the training code's own loaders.

The consumers (mmaction2, LLaMA-Factory) live in a venv of their own (``make consumers``; ``make test`` builds
it and passes its python as ``VISIONFLOW_CONSUMERS_PYTHON``), so each check runs one of ``readers/`` there as a
subprocess and reads back what the consumer's code saw, as JSON."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

READERS = Path(__file__).resolve().parent / "readers"
ENV = "VISIONFLOW_CONSUMERS_PYTHON"


def pytest_collection_modifyitems(items):
    for item in items:
        if READERS.parent in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.consumers)


@pytest.fixture(scope="session")
def consumer_python() -> str:
    python = os.environ.get(ENV, "")
    if not python or not os.access(python, os.X_OK):
        pytest.fail(f"{ENV} is {python!r}: run these tests through `make test` or `make test-consumers`, which "
                    "build the consumers' venv (`make consumers`) and set it")
    return python


@pytest.fixture
def run_reader(consumer_python, tmp_path):
    """``run_reader("mmaction_read.py", *args)``: the reader's JSON answer; its stderr on failure."""

    def run(script: str, *args: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHONPATH"))}
        # Nothing may reach a hub: the consumers read local files only.
        env.update({"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg", "TMPDIR": str(tmp_path)})
        done = subprocess.run([consumer_python, str(READERS / script), *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=600)
        assert done.returncode == 0, f"{script} failed:\n{done.stderr[-6000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run

