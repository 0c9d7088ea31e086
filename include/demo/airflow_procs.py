"""Start, watch and stop Airflow components as plain processes, and talk to the REST API.

Shared by the demo (``python -m include.demo``) and the distributed test, so both run Airflow the same way:
every component in its own process group (stopped by PID, group-wide), every server on 127.0.0.1, and only the
environment the README documents. Nothing here imports Airflow; components run as ``python -m airflow ...``.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


def poll(check: Callable[[], object], timeout: float, what: str, interval: float = 1.0):
    """Call ``check`` until it returns something truthy; raise TimeoutError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def airflow_env(home: Path, api_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every component gets: the inherited one minus any AIRFLOW* settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # config/: airflow_local_settings (the queue policy, readable CLI errors, SQLite's savepoints), which
        # docker-compose.yaml mounts as $AIRFLOW_HOME/config
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "config")]),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{api_port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    })
    env.update(extra or {})
    # Finished tasks are noticed within 0.25 s instead of Airflow's 1 s, as docker-compose.yaml deploys it (why:
    # there). SQLite once needed 1 s: four scheduler loops a second made `airflow backfill create` die with
    # "database is locked" (tests/dags/test_scheduler_backfill.py); config/airflow_local_settings.py, on
    # PYTHONPATH above, now makes that transaction take the write lock first (visionflow_airflow/sqlite_savepoints.py).
    env.setdefault("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "0.25")
    return env


def local_env(home: Path, api_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """``airflow_env`` for one machine: SQLite in ``home``, LocalExecutor, login admin/admin from a
    passwords file (written here)."""
    pw_file = home / "passwords.json"
    pw_file.write_text(json.dumps({"admin": "admin"}))
    return airflow_env(home, api_port, {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
        **(extra or {}),
    })


def start_components(procs: "Procs", env: dict[str, str], api_port: int, workers: list[tuple[str, list[str]]],
                     timeout: float = 180) -> "RestClient":
    """api-server, scheduler, dag-processor plus ``workers`` (name, airflow args); returns a logged-in
    client once the api-server answers (raising early if a component dies)."""
    procs.start_airflow("api-server", ["api-server", "--port", str(api_port)], env)
    procs.start_airflow("scheduler", ["scheduler", "--skip-serve-logs"], env)
    procs.start_airflow("dag-processor", ["dag-processor"], env)
    for name, args in workers:
        procs.start_airflow(name, args, env)
    api = RestClient(f"http://{HOST}:{api_port}")

    def up():
        procs.check_alive()
        return api.healthy()

    poll(up, timeout, f"the api-server on port {api_port}")
    api.login()
    return api


def airflow_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


def run_airflow(args: list[str], env: dict[str, str], log_file: Path, timeout: float = 300) -> str:
    """Run one airflow CLI command to completion; output goes to ``log_file``, errors name the command."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(airflow_cmd(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    with log_file.open("a") as fh:
        fh.write(f"$ airflow {' '.join(args[:2])}\n{proc.stdout}\n{proc.stderr}\n")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"`airflow {' '.join(args[:2])}` failed (exit {proc.returncode}); see {log_file}:\n{tail}")
    return proc.stdout


@dataclass
class Procs:
    """Background processes, each in its own session so a stop reaches its children too.

    ``pid_file`` (JSON list of {name, pid, started}) is rewritten after every start, so a later
    ``stop`` from another process finds everything even if the starter died half-way.
    """
    log_dir: Path
    pid_file: Path | None = None
    # Working directory of the components: where relative output roots (DAG defaults such as data/...) land.
    cwd: Path = ROOT
    entries: list[dict] = field(default_factory=list)
    _popen: dict[int, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(argv, env=env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._popen[proc.pid] = proc
        self.entries.append({"name": name, "pid": proc.pid, "started": _start_ticks(proc.pid)})
        self._save()
        log.info("started %s (pid %s, log %s)", name, proc.pid, self.log_dir / f"{name}.log")
        return proc

    def start_airflow(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        return self.start(name, airflow_cmd(*args), env)

    def check_alive(self) -> None:
        """Raise if a process we started has exited (a crashed component would otherwise mean a silent hang)."""
        for entry in self.entries:
            proc = self._popen.get(entry["pid"])
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{entry['name']} exited with code {proc.returncode}; "
                                   f"see {self.log_dir / (entry['name'] + '.log')}")

    def _save(self) -> None:
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(json.dumps(self.entries, indent=1))

    @classmethod
    def load(cls, pid_file: Path, log_dir: Path) -> "Procs":
        entries = json.loads(pid_file.read_text()) if pid_file.exists() else []
        return cls(log_dir=log_dir, pid_file=pid_file, entries=entries)

    def alive(self) -> list[dict]:
        return [e for e in self.entries if _is_ours(e)]

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every process group we started (newest first), then SIGKILL what is left after ``grace``."""
        targets = [e for e in reversed(self.entries) if _is_ours(e)]
        for entry in targets:
            _signal_group(entry["pid"], signal.SIGTERM)
            log.info("stopping %s (pid %s)", entry["name"], entry["pid"])
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_exists(e["pid"]) for e in targets):
            for proc in self._popen.values():
                proc.poll()  # reap our own children so they do not linger as zombies
            time.sleep(0.3)
        for entry in targets:
            if _group_exists(entry["pid"]):
                log.warning("%s (pid %s) ignored SIGTERM; killing it", entry["name"], entry["pid"])
                _signal_group(entry["pid"], signal.SIGKILL)
        for proc in self._popen.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.warning("pid %s did not exit", proc.pid)
        self.entries = []
        self._save()


def _start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (/proc/<pid>/stat field 22), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _is_ours(entry: dict) -> bool:
    """Our process (or its group) still runs. The start time guards against PID reuse; components rename
    their process title, so the command line cannot be used for that."""
    started = _start_ticks(entry["pid"])
    if started is None:
        return _group_exists(entry["pid"])  # leader gone, children of its group may remain
    return started == entry.get("started")


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


class RestClient:
    """The Airflow 3 REST API v2 with a JWT from POST /auth/token (SimpleAuthManager login)."""

    def __init__(self, base_url: str, username: str = "admin", password: str = "admin"):
        self.base_url = base_url.rstrip("/")
        self._auth = {"username": username, "password": password}
        self.session = requests.Session()
        self.session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment

    def healthy(self) -> bool:
        try:
            return self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def login(self) -> None:
        resp = self.session.post(f"{self.base_url}/auth/token", json=self._auth, timeout=30)
        resp.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def get(self, path: str, **params) -> dict:
        resp = self.session.get(f"{self.base_url}/api/v2/{path.lstrip('/')}", params=params, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: dict) -> dict:
        resp = self.session.post(f"{self.base_url}/api/v2/{path.lstrip('/')}", json=body, timeout=30)
        if resp.status_code >= 400:
            raise RuntimeError(f"POST {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    def patch(self, path: str, body: dict) -> dict:
        resp = self.session.patch(f"{self.base_url}/api/v2/{path.lstrip('/')}", json=body, timeout=30)
        if resp.status_code >= 400:
            raise RuntimeError(f"PATCH {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    def dags(self) -> dict[str, dict]:
        return {d["dag_id"]: d for d in self.get("dags", limit=1000)["dags"]}

    def import_errors(self) -> list[dict]:
        return self.get("importErrors", limit=1000)["import_errors"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]

    def refresh_states(self, runs: dict[str, str], states: dict[str, str]) -> None:
        """Update ``states`` ({dag_id: state}) for every run of ``runs`` ({dag_id: run_id}) not yet ended."""
        for dag_id, run_id in runs.items():
            if states.get(dag_id) not in TERMINAL_RUN_STATES:
                states[dag_id] = self.dag_run(dag_id, run_id)["state"]
                if states[dag_id] in TERMINAL_RUN_STATES:
                    log.info("%s finished: %s", dag_id, states[dag_id])

    def wait_runs(self, runs: dict[str, str], timeout: float, on_tick: Callable[[], None] | None = None,
                  interval: float = 3.0) -> dict[str, str]:
        """Poll ``{dag_id: run_id}`` until every run is success/failed; return ``{dag_id: state}``."""
        states: dict[str, str] = {}

        def done() -> bool:
            if on_tick is not None:
                on_tick()
            self.refresh_states(runs, states)
            return all(s in TERMINAL_RUN_STATES for s in states.values())

        try:
            poll(done, timeout, "DAG runs " + ", ".join(runs), interval=interval)
        except TimeoutError:
            log.warning("runs still going after %.0fs: %s", timeout, states)
        return states
