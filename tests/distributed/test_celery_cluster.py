"""A real cluster on this machine: Airflow on PostgreSQL with CeleryExecutor (Redis broker), the api-server,
scheduler, dag-processor and TWO Celery workers (``--skip-serve-logs``, each reporting its own hostname
through ``visionflow_airflow.hostname.worker_hostname``), every output on S3 (the sample source's moto).

1. ``openimages_v4`` and two ``flickr_cc_crawl`` days are triggered through the REST API: the mapped
   download shards run on both workers, the two crawls share the Flickr key's budget through Redis (the
   emulator's metered key refuses nothing), and the bucket holds exactly what a ``dag.test()`` run of the
   same conf and a plain engine crawl wrote.
2. A second ``openimages_v4`` run: one worker is SIGKILLed (its whole process tree) while a shard is half
   written. The scheduler notices the lost heartbeat, the task is retried on the other worker, the run
   succeeds, and the outputs equal the reference again: nothing missing, nothing twice, no temp object.

Private state only: a fresh PostgreSQL database, a claimed Redis db number, a temporary AIRFLOW_HOME; every
process is stopped by PID in a finally block.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import signal
import socket
import time
from pathlib import Path

import pytest

from include.demo import airflow_procs as ap
from include.sample_source import flickr_api as fa
from include.sample_source.server import Response

BUCKET = "visionflow-cluster"
OI, CRAWL = "openimages_v4", "flickr_cc_crawl"
CRAWL_DAYS = ("2021-06-04", "2021-06-05")
WORKERS = ("w1", "w2")
ROWS, PARALLELISM = 48, 4  # 4 shards of 12 images
IMAGE_DELAY = 0.25  # seconds per image request: a shard lasts a few seconds, long enough to be killed in
THREADS = 2
RUN_TIMEOUT = 300
SLOW = "/scale-slow"


# -- a metadata catalogue whose images take a moment each -----------------------------------------------------
def _jpegs() -> list[bytes]:
    from PIL import Image

    from include.sample_source.media import color_photos

    out = []
    for path in sorted(color_photos().values())[:6]:
        image = Image.open(path).convert("RGB")
        image.thumbnail((640, 640))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


@pytest.fixture(scope="module")
def slow_catalogue(sample_source) -> dict[str, str]:
    """``metadata_url`` / ``boxable_url`` on the sample source for ROWS train images served with a delay."""
    jpegs = _jpegs()
    header = "ImageID,Subset,OriginalURL,OriginalMD5\n"
    lines = []
    for n in range(ROWS):
        data = jpegs[n % len(jpegs)]
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        lines.append(f"{hashlib.sha1(str(n).encode()).hexdigest()[:16]},train,"
                     f"{sample_source.base_url}{SLOW}/img/{n}.jpg,{md5}\n")
    files = {"/meta.csv": (header + "".join(lines)).encode(), "/boxable.csv": header.encode()}

    def handle(req) -> Response:
        if req.path in files:
            return Response(200, files[req.path], content_type="text/csv")
        name = req.path.rsplit("/", 1)[-1]
        if req.path.startswith("/img/") and name[:-4].isdigit() and int(name[:-4]) < ROWS:
            time.sleep(IMAGE_DELAY)
            return Response(200, jpegs[int(name[:-4]) % len(jpegs)], content_type="image/jpeg")
        return Response(404, b"not found", content_type="text/plain")

    sample_source.mount(SLOW, handle)
    return {"metadata_url": f"{sample_source.base_url}{SLOW}/meta.csv",
            "boxable_url": f"{sample_source.base_url}{SLOW}/boxable.csv"}


def oi_conf(catalogue: dict, prefix: str) -> dict:
    return {**catalogue, "output_root": f"s3://{BUCKET}/{prefix}", "splits": ["train"], "train_size": ROWS,
            "thumbnail_size": 128, "tarballs": False, "parallelism": PARALLELISM}


# -- the cluster ---------------------------------------------------------------------------------------------
def cluster_env(home: Path, api_port: int, db_url: str, broker: str, sample_source) -> dict[str, str]:
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    return ap.airflow_env(home, api_port, {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        # A queue of our own as well as a db: no other cluster's worker can take our tasks.
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"vf-{secrets.token_hex(4)}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db_url.replace("+psycopg2", ""),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        # More than the workers' 4 slots, so the scheduler sends every download shard to the broker at once and
        # each worker takes what its slots allow (prefetch 1 x concurrency 2, acks late). At the demo's 4 a shard
        # could wait in the executor behind the daily flickr_cc_crawl run and a finished `plan` not yet synced,
        # then go to whichever worker had just freed its slots: one worker ran all four (a CI failure).
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "visionflow_airflow.hostname.worker_hostname",
        # A lost worker is noticed after 20 s without a heartbeat, and its task retried 2-4 s later.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        "VISIONFLOW_RETRY_DELAY_S": "2",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW_CONN_AWS_DEFAULT": sample_source.s3.connection_json(),
        # The metered key: the emulator answers 429 as soon as the crawls together exceed its budget.
        "AIRFLOW_CONN_FLICKR_DEFAULT": fa.connection_json(sample_source.base_url, fa.METERED_KEY,
                                                          fa.METERED_PER_HOUR),
        "VISIONFLOW_ALLOW_PRIVATE_NETWORKS": "1",
        "VISIONFLOW_THREADS": str(THREADS),
        "PYTHONPATH": f"{ap.ROOT}{os.pathsep}{ap.ROOT / 'plugins'}",
    })


def launch_cluster(procs: ap.Procs, env: dict, api_port: int, home: Path) -> dict[str, str]:
    """Migrate, then start every component without waiting for them; returns {task hostname: worker}."""
    ap.run_airflow(["db", "migrate"], env, home / "logs" / "cli.log")
    procs.start_airflow("api-server", ["api-server", "--port", str(api_port)], env)
    procs.start_airflow("scheduler", ["scheduler", "--skip-serve-logs"], env)
    procs.start_airflow("dag-processor", ["dag-processor"], env)
    hostnames = {}
    for name in WORKERS:
        procs.start_airflow(f"worker-{name}", ["celery", "worker", "--skip-serve-logs", "--celery-hostname",
                                               f"{name}@%h", "--queues", env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]],
                            {**env, "VISIONFLOW_WORKER_NAME": name})
        hostnames[f"{socket.getfqdn()}-{name}"] = name
    return hostnames


def cluster_ready(procs: ap.Procs, api_port: int) -> ap.RestClient:
    """Once the api-server answers, both workers are ready and the DAGs parsed: a logged-in client, and the
    crawl pool wide enough for two days at once."""
    api = ap.RestClient(f"http://{ap.HOST}:{api_port}")

    def ready() -> bool:
        procs.check_alive()
        logs = [(procs.log_dir / f"worker-{n}.log").read_text(errors="replace") for n in WORKERS]
        if not (all(" ready." in text for text in logs) and api.healthy()):
            return False
        if "Authorization" not in api.session.headers:
            api.login()
        return {OI, CRAWL} <= set(api.dags())

    ap.poll(ready, 240, "the api-server, two Celery workers and the parsed DAGs", interval=2)
    api.post("pools", {"name": "flickr_api", "slots": 4, "include_deferred": False})
    return api


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant at once: a worker host lost, task processes included."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    for target in tree:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_worker(procs: ap.Procs, name: str) -> None:
    """SIGKILL a worker's tree and stop watching it (check_alive would report it as crashed)."""
    entry = next(e for e in procs.entries if e["name"] == name)
    kill_tree(entry["pid"])
    procs.entries.remove(entry)
    procs._popen.pop(entry["pid"]).wait(timeout=30)


# -- what is in the bucket --------------------------------------------------------------------------------
def objects(s3, prefix: str) -> dict[str, str]:
    """{key relative to prefix: ETag (the MD5 of a single-part object)}"""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    return {o["Key"][len(prefix) + 1:]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def images(s3, prefix: str) -> dict[str, str]:
    return {k: v for k, v in objects(s3, prefix).items() if k.startswith("train/images/")}


def summary_counts(s3, prefix: str) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=f"{prefix}/train/summary.json")["Body"].read())["counts"]


def manifest_keys(sample_source, prefix: str) -> list[str]:
    from include.visionflow.manifest import read_manifest
    from include.visionflow.storage import S3Options, open_storage

    storage = open_storage(f"s3://{BUCKET}/{prefix}", S3Options(endpoint_url=sample_source.s3.endpoint_url,
                                                                access_key="testing", secret_key="testing"))
    rels = [k for k in storage.list("_work") if k.endswith(".manifest.parquet")]
    return [r.key for rel in rels for r in read_manifest(storage, rel)]


def shard_layout(s3, prefix: str) -> list[tuple[set[str], str]]:
    """(image keys, stats key) of every download shard of a run, in map-index order."""
    import pyarrow.parquet as pq

    shards = sorted(k for k in objects(s3, prefix) if "/shards/" in k and k.endswith(".parquet"))
    layout = []
    for rel in shards:
        body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{rel}")["Body"].read()
        ids = pq.read_table(io.BytesIO(body)).column("ImageID").to_pylist()
        stats = rel.replace("/shards/", "/manifests/").replace(".parquet", ".stats.json")
        layout.append(({f"train/images/{i[:2]}/{i}.jpg" for i in ids}, stats))
    return layout


def reference_crawls(sample_source, root: Path) -> dict[str, bytes]:
    """The two days crawled by the engine alone (the generous key): what the cluster must have written."""
    import gzip

    from include.visionflow.datasets.flickr import DayLayout, crawl_day
    from include.visionflow.sources.flickr_api import FlickrClient, FlickrConfig
    from include.visionflow.storage import open_storage

    config = FlickrConfig(api_key=fa.API_KEY, endpoint=sample_source.urls["flickr_endpoint"], requests_per_hour=1e7)
    storage = open_storage(str(root))
    for day in CRAWL_DAYS:
        crawl_day(FlickrClient(config), storage, day)
    return {day: gzip.decompress(storage.read_bytes(DayLayout(day).tsv)) for day in CRAWL_DAYS}


def logs(log_dir: Path) -> str:
    return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in sorted(log_dir.glob("*.log")))


@pytest.mark.slow
def test_two_workers_then_a_worker_killed_mid_shard(tmp_path, postgres_db, redis_url, sample_source,
                                                   slow_catalogue, airflow_db, monkeypatch):
    import gzip

    s3 = sample_source.s3.ensure_bucket(BUCKET)
    run_tag = tmp_path.name[-12:]
    home = tmp_path / "airflow"
    home.mkdir()
    api_port = ap.free_port()
    env = cluster_env(home, api_port, postgres_db, redis_url, sample_source)
    procs = ap.Procs(log_dir=tmp_path / "logs")
    try:
        started = time.monotonic()
        hostnames = launch_cluster(procs, env, api_port, tmp_path)
        # The reference while the components start, in this process: dag.test() (no executor) of the same
        # conf, and the engine's crawl of the two days.
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", sample_source.s3.connection_json())
        monkeypatch.setenv("VISIONFLOW_THREADS", str(THREADS))
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(ap.ROOT / "dags" / "openimages.py")).dags[OI]
        assert dag.test(run_conf=oi_conf(slow_catalogue, f"{run_tag}/ref")).state == "success"
        crawled = reference_crawls(sample_source, tmp_path / "flickr-ref")
        api = cluster_ready(procs, api_port)
        print(f"cluster up in {time.monotonic() - started:.0f} s")
        refused_before = fa.STATE.metered_refused

        # 1. openimages, then two crawl days, through the REST API, all running at once. The crawls go in
        # once each worker has taken a shard: a shard marked queued may still wait in the executor (it counts
        # a finished `plan` as running until its next sync), and the crawls' tasks, which weigh more, would
        # then reach the broker first and could fill one worker's two slots while the other ran every shard.
        runs = {(OI, "both"): api.post(f"dags/{OI}/dagRuns", {"logical_date": None, "dag_run_id": "both",
                                                             "conf": oi_conf(slow_catalogue, f"{run_tag}/both")})}
        ap.poll(lambda: shards_taken_by_both(api, procs, hostnames), RUN_TIMEOUT,
                "a download shard started on each worker", interval=0.5)
        for day in CRAWL_DAYS:
            conf = {"date": day, "output_root": f"s3://{BUCKET}/{run_tag}/flickr"}
            runs[(CRAWL, day)] = api.post(f"dags/{CRAWL}/dagRuns", {"logical_date": None, "dag_run_id": day,
                                                                   "conf": conf})

        states = {}
        for (dag_id, run_id) in runs:
            states.update({(dag_id, run_id): s for s in
                           api.wait_runs({dag_id: run_id}, RUN_TIMEOUT, on_tick=procs.check_alive).values()})
        assert all(s == "success" for s in states.values()), f"{states}\n{logs(procs.log_dir)}"

        downloads = [t for t in api.task_instances(OI, "both") if t["task_id"] == "download"]
        assert len(downloads) == PARALLELISM
        assert {hostnames.get(t["hostname"]) for t in downloads} == set(WORKERS), \
            [(t["map_index"], t["hostname"], t["try_number"], t["queued_when"], t["start_date"], t["end_date"])
             for t in downloads]
        assert images(s3, f"{run_tag}/both") == images(s3, f"{run_tag}/ref")
        assert len(images(s3, f"{run_tag}/ref")) == ROWS
        assert summary_counts(s3, f"{run_tag}/both") == summary_counts(s3, f"{run_tag}/ref")
        for day in CRAWL_DAYS:
            key = f"{run_tag}/flickr/meta/{day}/flickr_images_{day}.tsv.gz"
            assert gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) == crawled[day]
        assert fa.STATE.metered_refused == refused_before, "the crawls together went over the key's budget"

        print(f"phase 1 done at {time.monotonic() - started:.0f} s")
        # 2. Kill a worker while one of its shards is half written.
        prefix = f"{run_tag}/kill"
        api.post(f"dags/{OI}/dagRuns", {"logical_date": None, "dag_run_id": "kill",
                                        "conf": oi_conf(slow_catalogue, prefix)})
        victim = ap.poll(lambda: half_written_shard(api, s3, prefix, hostnames, procs), 180,
                         "a download shard half written", interval=0.2)
        map_index, worker = victim
        kill_worker(procs, f"worker-{worker}")
        killed_at = time.monotonic()
        state = api.wait_runs({OI: "kill"}, RUN_TIMEOUT, on_tick=procs.check_alive)[OI]
        assert state == "success", f"{state}\n{logs(procs.log_dir)}"
        print(f"kill -> run success in {time.monotonic() - killed_at:.0f} s")

        retried = next(t for t in api.task_instances(OI, "kill")
                       if t["task_id"] == "download" and t["map_index"] == map_index)
        survivor = next(w for w in WORKERS if w != worker)
        assert retried["try_number"] >= 2 and hostnames.get(retried["hostname"]) == survivor, retried
        assert images(s3, prefix) == images(s3, f"{run_tag}/ref")
        assert summary_counts(s3, prefix) == summary_counts(s3, f"{run_tag}/ref")
        keys = manifest_keys(sample_source, prefix)
        assert len(keys) == len(set(keys)) == ROWS  # one status row per image, none twice
        leftovers = [k for k in objects(s3, run_tag) if "/.tmp/" in k or k.endswith((".part", ".tmp"))]
        assert leftovers == []
    finally:
        procs.stop(grace=8)


def shards_taken_by_both(api: ap.RestClient, procs: ap.Procs, hostnames: dict) -> bool:
    """Has each worker started a download shard of run "both"? (A task keeps its hostname once it ends.)"""
    procs.check_alive()
    downloads = [t for t in api.task_instances(OI, "both") if t["task_id"] == "download"]
    return {hostnames.get(t["hostname"]) for t in downloads if t["hostname"]} >= set(WORKERS)


def half_written_shard(api: ap.RestClient, s3, prefix: str, hostnames: dict, procs: ap.Procs):
    """(map index, worker) of a running download whose shard has some images but no stats yet, or None."""
    procs.check_alive()
    running = [t for t in api.task_instances(OI, "kill")
               if t["task_id"] == "download" and t["state"] == "running" and t["hostname"] in hostnames]
    if not running:
        return None
    present = objects(s3, prefix)
    layout = shard_layout(s3, prefix)
    for ti in running:
        if ti["map_index"] >= len(layout):
            continue
        keys, stats = layout[ti["map_index"]]
        done = len(keys & present.keys())
        if 0 < done < len(keys) and stats not in present:
            return ti["map_index"], hostnames[ti["hostname"]]
    return None
