"""The comparison tools' environment: ``.venv-bench`` holds img2dataset (its pins would fight Airflow's), and
``.venv-bench-imagededup`` holds imagededup (the filter cases' anchor: it requires torch and torchvision,
several GB from the registry, which neither the project venv nor img2dataset's should carry).

Created on first use with ``python3.11 -m venv`` and ``pip install img2dataset==1.47.0``; never touches the
project venv. ``py-spy`` goes there too, for profiling.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
IMG2DATASET = "img2dataset==1.47.0"
EXTRA = ["py-spy"]


def bench_python() -> Path:
    return BENCH_VENV / "bin" / "python"


def tool_env() -> dict[str, str]:
    """Environment for both sides: no telemetry or update checks; the engine may reach 127.0.0.1."""
    env = dict(os.environ)
    env.update(NO_ALBUMENTATIONS_UPDATE="1", WANDB_MODE="disabled", WANDB_DISABLED="true",
               PYTHONUNBUFFERED="1", VISIONFLOW_ALLOW_PRIVATE_NETWORKS="1",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               VISIONFLOW_INPUT_DIRS=str(ROOT / "bench" / "work"))  # generated inputs are local files there
    return env


def ensure_bench_venv() -> Path:
    """Create ``.venv-bench`` with img2dataset when it is missing; returns its python."""
    py = bench_python()
    marker = BENCH_VENV / ".installed"
    if py.exists() and marker.exists() and marker.read_text().strip() == IMG2DATASET:
        return py
    creator = shutil.which("python3.11") or sys.executable
    if not py.exists():
        log.info("creating %s with %s", BENCH_VENV, creator)
        subprocess.run([creator, "-m", "venv", str(BENCH_VENV)], check=True)
    log.info("installing %s into %s (one time)", IMG2DATASET, BENCH_VENV)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", IMG2DATASET, *EXTRA], check=True)
    marker.write_text(IMG2DATASET + "\n")
    return py


IMAGEDEDUP_VENV = ROOT / ".venv-bench-imagededup"
IMAGEDEDUP = "imagededup==0.3.3.post2"


def ensure_imagededup_venv() -> Path:
    """Create ``.venv-bench-imagededup`` with imagededup when it is missing; returns its python."""
    py = IMAGEDEDUP_VENV / "bin" / "python"
    marker = IMAGEDEDUP_VENV / ".installed"
    if py.exists() and marker.exists() and marker.read_text().strip() == IMAGEDEDUP:
        return py
    creator = shutil.which("python3.11") or sys.executable
    if not py.exists():
        log.info("creating %s with %s", IMAGEDEDUP_VENV, creator)
        subprocess.run([creator, "-m", "venv", str(IMAGEDEDUP_VENV)], check=True)
    log.info("installing %s into %s (one time, torch included: several GB)", IMAGEDEDUP, IMAGEDEDUP_VENV)
    subprocess.run([str(py), "-m", "pip", "install", "-q", IMAGEDEDUP], check=True)
    marker.write_text(IMAGEDEDUP + "\n")
    return py


def img2dataset_version() -> str:
    py = bench_python()
    if not py.exists():
        return "not installed"
    out = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('img2dataset'))"],
                         capture_output=True, text=True, env=tool_env())
    return out.stdout.strip() or "unknown"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(ensure_bench_venv())
