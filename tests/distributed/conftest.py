"""Private state on the machine's PostgreSQL and Redis for the distributed tests: a fresh database per test
(dropped at the end) and a Redis db number claimed atomically (flushed at the end), so parallel runs of the
suite on one machine never share a broker, a budget or a metadata database. Where no Redis listens on 6379,
a private ``redis-server`` is started on a free port, and likewise a private PostgreSQL cluster."""
from __future__ import annotations

import getpass
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Claimed from the top down: older copies of these tests took the first empty db from 8 upwards.
REDIS_DBS = range(15, 7, -1)
CLAIM = "visionflow-test-claim"


@pytest.fixture(scope="session")
def postgres_server():
    """Connection kwargs of the machine's PostgreSQL, or of a private cluster (``initdb`` + ``pg_ctl`` on a
    free port, run as the ``postgres`` user when the tests run as root) when none listens on 5432."""
    if _listening(PG["host"], PG["port"]) or not (shutil.which("initdb") and shutil.which("pg_ctl")):
        yield dict(PG)
        return
    with socket.socket() as sock:
        sock.bind((PG["host"], 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="visionflow-pg-")
    data = os.path.join(workdir, "data")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(workdir, "postgres")
    user = "postgres" if as_user else getpass.getuser()
    subprocess.run([*as_user, "initdb", "-D", data, "-U", user, "--auth", "trust"], check=True,
                   stdout=subprocess.DEVNULL)
    options = f"-c listen_addresses={PG['host']} -p {port} -k {workdir}"
    subprocess.run([*as_user, "pg_ctl", "-D", data, "-o", options, "-l", os.path.join(workdir, "log"), "-w",
                    "start"], check=True, stdout=subprocess.DEVNULL)
    try:
        yield {"host": PG["host"], "port": port, "user": user}
    finally:
        subprocess.run([*as_user, "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], stdout=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server):
    from include.demo.postgres import temporary_database

    with temporary_database(**postgres_server, prefix="visionflow_ci") as url:
        yield url


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def redis_server():
    """(host, port) of the machine's Redis, or of a private ``redis-server`` started on a free port when
    none listens on 6379 (stopped at the end of the session)."""
    if _listening(REDIS_HOST, REDIS_PORT) or not shutil.which("redis-server"):
        yield REDIS_HOST, REDIS_PORT
        return
    with socket.socket() as sock:
        sock.bind((REDIS_HOST, 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="visionflow-redis-")
    proc = subprocess.Popen(["redis-server", "--bind", REDIS_HOST, "--port", str(port), "--save", "",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _listening(REDIS_HOST, port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on {REDIS_HOST}:{port}")
            time.sleep(0.2)
        yield REDIS_HOST, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server):
    """``redis://<host>:<port>/<n>`` for an empty db this test alone holds (claimed with SET NX)."""
    import redis

    host, port = redis_server
    token = secrets.token_hex(8)
    for number in REDIS_DBS:
        client = redis.Redis(host=host, port=port, db=number)
        if client.set(CLAIM, token, nx=True, ex=6 * 3600) and client.dbsize() == 1:
            break
        if client.get(CLAIM) == token.encode():
            client.delete(CLAIM)  # ours, but the db holds someone else's keys
        client.close()
    else:
        pytest.fail(f"no free Redis db among {list(REDIS_DBS)} on {host}:{port}")
    try:
        yield f"redis://{host}:{port}/{number}"
    finally:
        client.flushdb()
        client.close()
