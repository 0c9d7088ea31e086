"""``airflow backfill create`` for ``flickr_cc_crawl`` over two days, executed by a real scheduler
(LocalExecutor, SQLite) against the sample Flickr API: one backfill run per day, each day crawled into its
own folder with a ``done`` marker, the rows matching what the emulator serves for that day.

Airflow 3's backfill only creates the runs; the scheduler runs them, so this is the scheduled path the
``dag.test()`` tests do not cover (data intervals from the timetable, the ``flickr_api`` pool).
"""
from __future__ import annotations

import gzip
import json

import pytest
import requests

from include.demo import airflow_procs as ap

DAG_ID = "flickr_cc_crawl"
DAYS = ["2021-06-01", "2021-06-02"]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN state on ``port``, from the kernel's own tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)) if len(address) == 8
                          else address)
    return found


@pytest.mark.slow
def test_backfill_two_days_of_flickr_crawl(tmp_path, sample_source):
    home, out = tmp_path / "airflow", tmp_path / "flickr_cc"
    home.mkdir()
    api_port = ap.free_port()
    env = ap.local_env(home, api_port, {
        "AIRFLOW_CONN_FLICKR_DEFAULT": sample_source.urls["flickr_conn_json"],
        "VISIONFLOW_ALLOW_PRIVATE_NETWORKS": "1",
    })
    # cwd: the DAG is unpaused at creation, so the scheduler also starts its latest scheduled day with the
    # default (relative) output root; that goes to tmp_path too.
    procs = ap.Procs(log_dir=tmp_path / "logs", cwd=tmp_path)
    cli_log = tmp_path / "logs" / "cli.log"
    try:
        ap.run_airflow(["db", "migrate"], env, cli_log)
        ap.run_airflow(["pools", "import", str(ap.ROOT / "include" / "pools.json")], env, cli_log)
        api = ap.start_components(procs, env, api_port, [])
        # Access: the API asks for a login, and every server started here listens on loopback only.
        anonymous = requests.Session()
        anonymous.trust_env = False
        assert anonymous.get(f"http://{ap.HOST}:{api_port}/api/v2/dags", timeout=30).status_code == 401
        wrong = anonymous.post(f"http://{ap.HOST}:{api_port}/auth/token",
                               json={"username": "admin", "password": "guess"}, timeout=30)
        assert wrong.status_code in (401, 403)
        s3_port = int(sample_source.s3.endpoint_url.rsplit(":", 1)[1])
        for port in (api_port, sample_source.port, s3_port):
            assert listening_addresses(port) == {"127.0.0.1"}, port
        ap.poll(lambda: procs.check_alive() or DAG_ID in api.dags(), 120, f"{DAG_ID} to be parsed", interval=2)

        ap.run_airflow(["backfill", "create", "--dag-id", DAG_ID, "--from-date", DAYS[0], "--to-date", DAYS[-1],
                        "--max-active-runs", "2", "--dag-run-conf", json.dumps({"output_root": str(out)})],
                       env, cli_log)

        def backfill_runs():
            procs.check_alive()
            runs = [r for r in api.get(f"dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]
                    if r["run_type"] == "backfill"]
            return runs if len(runs) == len(DAYS) and all(r["state"] in ap.TERMINAL_RUN_STATES for r in runs) \
                else None

        runs = ap.poll(backfill_runs, 240, "the backfill runs", interval=3)
        assert {r["state"] for r in runs} == {"success"}, runs
        assert sorted(r["logical_date"][:10] for r in runs) == DAYS

        for day in DAYS:
            folder = out / "meta" / day
            assert (folder / "done").exists(), sorted(p.name for p in out.rglob("*"))
            crawl = json.loads((folder / "crawl.json").read_text())
            assert crawl["day"] == day and crawl["rows"] > 0
            with gzip.open(folder / f"flickr_images_{day}.tsv.gz", "rt") as fh:
                assert sum(1 for _ in fh) == crawl["rows"]
    finally:
        procs.stop()
