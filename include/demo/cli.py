"""``make demo`` / ``make stop``: the sample source plus a loopback-only Airflow, and one demo run per dataset.

Everything lives under ``<repo>/.demo/`` (gitignored): ``airflow/`` (AIRFLOW_HOME, SQLite), ``sample/``
(catalogue files and ``urls.json``), ``data/`` (the demo outputs), ``logs/`` (one log per process) and
``pids`` (what ``stop`` kills, by process group).
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from include.demo import airflow_procs as ap
from include.demo.confs import DEMO_RUNS, MissingCatalog, connections
from include.demo.runs import demo_confs, run_all
from include.demo.summary import Row, format_table, read_counts

log = logging.getLogger("include.demo")

API_PORT = 8080
USER, PASSWORD = "admin", "admin"
REPORTS_PREFIX = "/visionflow/reports"  # plugins/visionflow_reports.py serves <prefix>/runs/<dag>/<run>
SHELL_KEYS = ("AIRFLOW", "VISIONFLOW", "PYTHONPATH")


@dataclass(frozen=True)
class Layout:
    root: Path
    port: int = API_PORT

    @property
    def home(self) -> Path:
        return self.root / "airflow"

    @property
    def sample(self) -> Path:
        return self.root / "sample"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def urls_file(self) -> Path:
        return self.sample / "urls.json"


def default_layout() -> Layout:
    return Layout(Path(os.environ.get("VISIONFLOW_DEMO_DIR", ap.ROOT / ".demo")).absolute())


def _jwt_secret(lay: Layout) -> str:
    """A 64-byte secret kept across restarts (Airflow's generated one is short enough for PyJWT to warn)."""
    path = lay.home / "jwt_secret"
    if not path.exists():
        path.write_text(secrets.token_hex(64))
        path.chmod(0o600)
    return path.read_text().strip()


def _env(lay: Layout, urls: dict[str, str]) -> dict[str, str]:
    api = json.dumps({"conn_type": "http", "host": ap.HOST, "port": lay.port, "schema": "http",
                      "login": USER, "password": PASSWORD})
    return ap.local_env(lay.home, lay.port, {
        "VISIONFLOW_ALLOW_PRIVATE_NETWORKS": "1",
        "VISIONFLOW_INPUT_DIRS": str(lay.root),
        # The demo never starts runs by itself: cron schedules are off (manual and backfill runs still run).
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(lay),
        # Trigger-form defaults that work offline (the sample source), and where reports may be served from.
        "VISIONFLOW_PARAM_DEFAULTS": str(lay.root / "param_defaults.json"),
        "VISIONFLOW_REPORT_ROOTS": str(lay.data),
        "AIRFLOW_CONN_VISIONFLOW_API": api,
        **connections(urls),
    })


def all_confs(urls: dict[str, str], data: Path) -> dict[str, dict]:
    """dag_id -> demo conf, for every demo DAG whose catalogue the sample source serves."""
    confs = {}
    for dag_id, spec in DEMO_RUNS.items():
        try:
            confs[dag_id] = spec.build(urls, data)
        except MissingCatalog:
            continue
    return confs


def write_shell_files(lay: Layout, env: dict[str, str], confs: dict[str, dict]) -> None:
    """``param_defaults.json`` (the trigger forms' offline defaults), ``confs/<dag>.json`` and ``env.sh``
    (``source .demo/env.sh``: ``airflow`` reaches the demo, and its PYTHONPATH holds ``config/``, whose
    airflow_local_settings gives one-line param errors). Demo credentials only (admin/admin, moto's
    testing/testing), so the files are plain text, 0600."""
    (lay.root / "param_defaults.json").write_text(json.dumps(confs, indent=1))
    (lay.root / "confs").mkdir(exist_ok=True)
    for dag_id, conf in confs.items():
        (lay.root / "confs" / f"{dag_id}.json").write_text(json.dumps(conf, indent=1))
    lines = ["# source this file: `airflow ...` then talks to the running demo (`make demo`)."]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.startswith(SHELL_KEYS)]
    lines.append(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH")
    env_file = lay.root / "env.sh"
    env_file.write_text("\n".join(lines) + "\n")
    env_file.chmod(0o600)


def _start_sample_source(lay: Layout, procs: ap.Procs) -> dict[str, str]:
    lay.urls_file.unlink(missing_ok=True)
    proc = procs.start("sample-source", [sys.executable, "-m", "include.sample_source", "serve",
                                         "--data-dir", str(lay.sample), "--urls-file", str(lay.urls_file)],
                       ap.airflow_env(lay.home, lay.port))

    def ready():
        if proc.poll() is not None:
            raise RuntimeError(f"sample source exited; see {lay.logs / 'sample-source.log'}")
        return lay.urls_file.exists()

    ap.poll(ready, 180, "the sample source", interval=0.5)
    return json.loads(lay.urls_file.read_text())


def wait_for_dags(api: ap.RestClient, dags_folder: Path, procs: ap.Procs, timeout: float = 180) -> dict:
    """Wait until every DAG file is either parsed into DAGs or listed as an import error."""
    files = {p.name for p in dags_folder.glob("*.py") if not p.name.startswith("_")}
    state: dict = {}

    def parsed():
        procs.check_alive()
        dags, errors = api.dags(), api.import_errors()
        seen = {Path(d.get("fileloc") or "").name for d in dags.values()}
        seen |= {Path(e.get("filename") or "").name for e in errors}
        state.update(dags=dags, errors=errors, missing=files - seen)
        return not state["missing"]

    try:
        ap.poll(parsed, timeout, "the dag-processor to parse " + ", ".join(sorted(files)), interval=2)
    except TimeoutError:
        log.warning("files with no DAG after %ss (helpers, or not parsed yet): %s", timeout, state["missing"])
    for err in state["errors"]:
        log.error("import error in %s:\n%s", err.get("filename"), err.get("stack_trace"))
    return state["dags"]


def _summary(lay: Layout, runs: dict[str, str], states: dict[str, str]) -> str:
    rows = []
    for dag_id, spec in DEMO_RUNS.items():
        if dag_id not in states:
            continue
        state = states[dag_id]
        counted = spec.counts and dag_id in runs
        ok, failed = read_counts(lay.data, spec.counts, runs[dag_id]) if counted else (None, None)
        rows.append(Row(spec.dataset, state, ok, failed, os.path.relpath(lay.data / spec.output, Path.cwd())))
    return format_table(rows)


def start_services(lay: Layout, procs: ap.Procs) -> tuple[ap.RestClient, dict[str, str], dict[str, str], dict]:
    """The sample source and Airflow (as the demo runs them), the shell files, and the parsed DAGs; returns
    (logged-in REST client, component environment, sample-source URLs, {dag_id: dag})."""
    for folder in (lay.home, lay.sample, lay.data, lay.logs):
        folder.mkdir(parents=True, exist_ok=True)
    # Components run in .demo/, so a DAG's relative default output root (data/...) lands in .demo/data/.
    urls = _start_sample_source(lay, procs)
    env = _env(lay, urls)
    write_shell_files(lay, env, all_confs(urls, lay.data))
    log.info("migrating the metadata DB (%s)", lay.home / "airflow.db")
    ap.run_airflow(["db", "migrate"], env, lay.logs / "cli.log")
    pools = ap.ROOT / "include" / "pools.json"
    if pools.exists():
        ap.run_airflow(["pools", "import", str(pools)], env, lay.logs / "cli.log")
    api = ap.start_components(procs, env, lay.port, [("triggerer", ["triggerer", "--skip-serve-logs"])])
    return api, env, urls, wait_for_dags(api, ap.ROOT / "dags", procs)


def start(lay: Layout, timeout: float) -> int:
    started = time.monotonic()
    old = ap.Procs.load(lay.pids, lay.logs)
    if old.alive():
        log.error("the demo is already running (%s); `make stop` first",
                  ", ".join(e["name"] for e in old.alive()))
        return 1
    if ap.port_in_use(lay.port):
        log.error("port %d on 127.0.0.1 is taken by another program; stop it first", lay.port)
        return 1
    procs = ap.Procs(log_dir=lay.logs, pid_file=lay.pids, cwd=lay.root)
    try:
        api, env, urls, dags = start_services(lay, procs)
        broken = {Path(e.get("filename") or "").name for e in api.import_errors()}
        confs = demo_confs(urls, lay.data, dags, broken)
        runs, states = run_all(api, confs, env, lay.logs, timeout, on_tick=procs.check_alive)
    except BaseException:
        log.error("demo start failed; stopping what it started (logs in %s)", lay.logs)
        procs.stop()
        raise
    log.info("demo runs done in %.0fs\n\n%s\n", time.monotonic() - started, _summary(lay, runs, states))
    for dag_id, run_id in sorted(runs.items()):
        log.info("report of %s: http://%s:%d%s/runs/%s/%s", dag_id, ap.HOST, lay.port, REPORTS_PREFIX, dag_id,
                 quote(run_id, safe=""))
    log.info("Airflow UI: http://%s:%d (login %s/%s). Logs: %s. Stop everything with `make stop`.",
             ap.HOST, lay.port, USER, PASSWORD, lay.logs)
    log.info("CLI: `source %s` then e.g. `airflow dags list`; demo confs in %s",
             os.path.relpath(lay.root / "env.sh"), os.path.relpath(lay.root / "confs"))
    return 0 if all(s == "success" for s in states.values()) else 1


def stop(lay: Layout) -> int:
    procs = ap.Procs.load(lay.pids, lay.logs)
    if not procs.alive():
        log.info("nothing to stop")
    procs.stop()
    return 0


def status(lay: Layout) -> int:
    alive = ap.Procs.load(lay.pids, lay.logs).alive()
    for entry in alive:
        log.info("%-14s pid %s running", entry["name"], entry["pid"])
    if alive:
        log.info("Airflow UI: http://%s:%d", ap.HOST, API_PORT)
    else:
        log.info("the demo is not running")
    return 0 if alive else 1
