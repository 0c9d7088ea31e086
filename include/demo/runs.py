"""Trigger the demo runs (``airflow dags trigger``) in dependency order and wait for them through REST."""
from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Callable

from include.demo import airflow_procs as ap
from include.demo.confs import DEMO_RUNS, MissingCatalog

log = logging.getLogger(__name__)


def demo_confs(urls: dict[str, str], data: Path, dags: dict[str, dict], broken: set[str]) -> dict[str, dict]:
    """dag_id -> conf for every demo DAG that exists, loads, and has its catalogue; notes on the others."""
    confs = {}
    for dag_id, spec in DEMO_RUNS.items():
        if dag_id not in dags:
            log.info("skipping %s: DAG %s does not exist (yet)", spec.dataset, dag_id)
        elif Path(dags[dag_id].get("fileloc") or "").name in broken:
            # Its tasks could not load the DAG and would wait for a fix forever.
            log.error("skipping %s: %s has an import error (above)", spec.dataset, dags[dag_id]["fileloc"])
        else:
            try:
                confs[dag_id] = spec.build(urls, data)
            except MissingCatalog as exc:
                log.info("skipping %s: %s", spec.dataset, exc)
    for dag_id in sorted(set(dags) - set(DEMO_RUNS)):
        log.info("note: DAG %s has no demo run in include/demo/confs.py", dag_id)
    return confs


def trigger(confs: dict[str, dict], run_id: str, env: dict[str, str], log_dir: Path) -> dict[str, str]:
    """``airflow dags trigger`` each DAG, in parallel (each CLI call spends ~4 s starting up)."""
    pending = []
    for dag_id, conf in confs.items():
        cmd = ap.airflow_cmd("dags", "trigger", dag_id, "--run-id", run_id, "--conf", json.dumps(conf))
        with (log_dir / f"trigger-{dag_id}.log").open("w") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=ap.ROOT, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        pending.append((dag_id, proc))
    runs = {}
    for dag_id, proc in pending:
        if proc.wait(timeout=300) == 0:
            runs[dag_id] = run_id
            log.info("triggered %s (run %s)", dag_id, run_id)
        else:
            log.error("triggering %s failed; see %s", dag_id, log_dir / f"trigger-{dag_id}.log")
    return runs


def run_all(api: ap.RestClient, confs: dict[str, dict], env: dict[str, str], log_dir: Path, timeout: float,
            on_tick: Callable[[], None]) -> tuple[dict[str, str], dict[str, str]]:
    """Trigger every conf once its ``after`` DAG's run succeeded; wait until all end or ``timeout``.
    Returns ({dag_id: run_id}, {dag_id: state}); a DAG whose prerequisite failed gets state ``not run``."""
    run_id = "demo__" + time.strftime("%Y%m%dT%H%M%S")
    todo, runs, states = dict(confs), {}, {}

    def step() -> bool:
        """Drop DAGs whose prerequisite failed, trigger the ready ones, refresh states; True when all ended."""
        on_tick()
        for dag_id in [d for d in todo if DEMO_RUNS[d].after]:
            after = DEMO_RUNS[dag_id].after
            if after not in todo and after not in runs or states.get(after) in ("failed", "not run"):
                log.warning("not running %s: its prerequisite %s did not succeed", dag_id, after)
                todo.pop(dag_id)
                states[dag_id] = "not run"
        ready = {d: c for d, c in todo.items() if not DEMO_RUNS[d].after or states.get(DEMO_RUNS[d].after) == "success"}
        if ready:
            for dag_id in ready:
                todo.pop(dag_id)
            started = trigger(ready, run_id, env, log_dir)
            runs.update(started)
            states.update({d: "not run" for d in ready if d not in started})
            states.update({d: "queued" for d in started})
        api.refresh_states(runs, states)
        return not todo and all(s in ap.TERMINAL_RUN_STATES or s == "not run" for s in states.values())

    try:
        ap.poll(step, timeout, "the demo runs", interval=3)
    except TimeoutError:
        log.warning("gave up waiting after %.0fs: %s", timeout, states)
    return runs, states
