"""Private state on the machine's PostgreSQL and Redis for the distributed tests: a fresh database per test
(dropped at the end) and a Redis db number claimed atomically (flushed at the end), so parallel runs of the
suite on one machine never share a broker, a budget or a metadata database."""
from __future__ import annotations

import secrets

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Claimed from the top down: older copies of these tests took the first empty db from 8 upwards.
REDIS_DBS = range(15, 7, -1)
CLAIM = "visionflow-test-claim"


@pytest.fixture
def postgres_db():
    import psycopg2

    name = f"visionflow_ci_{secrets.token_hex(4)}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_url():
    """``redis://127.0.0.1:6379/<n>`` for an empty db this test alone holds (claimed with SET NX)."""
    import redis

    token = secrets.token_hex(8)
    for number in REDIS_DBS:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if client.set(CLAIM, token, nx=True, ex=6 * 3600) and client.dbsize() == 1:
            break
        if client.get(CLAIM) == token.encode():
            client.delete(CLAIM)  # ours, but the db holds someone else's keys
        client.close()
    else:
        pytest.fail(f"no free Redis db among {list(REDIS_DBS)} on {REDIS_HOST}:{REDIS_PORT}")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        client.flushdb()
        client.close()
