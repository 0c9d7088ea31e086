"""SQLite in WAL mode, as Airflow opens it: a transaction that opens with a SAVEPOINT (``session.begin_nested()``,
as ``airflow backfill create`` runs for each run) reads, another process commits, and its first write is refused
at once with "database is locked", whatever the busy timeout. With the listener the SAVEPOINT's transaction
holds the write lock from its start: no other writer gets in between its read and its write, and both land.
"""
from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from visionflow_airflow import sqlite_savepoints


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "airflow.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE dag_run (id INTEGER PRIMARY KEY, run_id TEXT UNIQUE)")
    return path


def _engine(path, timeout: float):
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": timeout})
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA journal_mode=WAL"))
    return engine


@pytest.fixture
def listener():
    event.listen(Engine, "savepoint", sqlite_savepoints.begin_immediate_before_first_savepoint)
    yield
    event.remove(Engine, "savepoint", sqlite_savepoints.begin_immediate_before_first_savepoint)


def _create_run_in_savepoint(engine, run_id: str, between=None) -> None:
    """What backfill does per run: SAVEPOINT, look for the run, then insert it (``between`` runs in the gap)."""
    with Session(engine) as session:
        with session.begin_nested():
            session.execute(text("SELECT count(*) FROM dag_run WHERE run_id = :r"), {"r": run_id}).scalar()
            if between:
                between()
            session.execute(text("INSERT INTO dag_run (run_id) VALUES (:r)"), {"r": run_id})
        session.commit()


def _scheduler_commit(engine, run_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO dag_run (run_id) VALUES (:r)"), {"r": run_id})


def test_without_the_listener_a_commit_between_read_and_write_is_refused_at_once(database):
    cli, scheduler = _engine(database, 30), _engine(database, 30)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        _create_run_in_savepoint(cli, "backfill_2", between=lambda: _scheduler_commit(scheduler, "scheduled_1"))
    assert time.monotonic() - started < 10  # refused, not timed out: the 30 s busy timeout never applied


def test_with_the_listener_the_savepoint_transaction_holds_the_write_lock_and_both_writes_land(database, listener):
    cli, scheduler = _engine(database, 30), _engine(database, 30)

    def between():
        # Another writer cannot slip in between the read and the write: with no lock wait it is refused at once
        # (with one, as Airflow's processes have, it waits its turn).
        with pytest.raises(OperationalError, match="database is locked"):
            _scheduler_commit(_engine(database, 0), "scheduled_1")

    _create_run_in_savepoint(cli, "backfill_2", between=between)
    _scheduler_commit(scheduler, "scheduled_1")
    with sqlite3.connect(database) as db:
        assert sorted(r for (r,) in db.execute("SELECT run_id FROM dag_run")) == ["backfill_2", "scheduled_1"]


def test_a_transaction_already_writing_is_left_alone(database, listener):
    engine = _engine(database, 30)
    with Session(engine) as session:
        session.execute(text("INSERT INTO dag_run (run_id) VALUES ('first')"))  # sqlite3 opens the transaction
        with session.begin_nested():  # inside it: no second BEGIN (which SQLite would refuse)
            session.execute(text("INSERT INTO dag_run (run_id) VALUES ('second')"))
        session.commit()
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM dag_run").fetchone() == (2,)


def test_install_registers_once_for_every_engine():
    listener = sqlite_savepoints.begin_immediate_before_first_savepoint
    try:
        sqlite_savepoints.install()
        sqlite_savepoints.install()
        assert event.contains(Engine, "savepoint", listener)
        event.remove(Engine, "savepoint", listener)
        assert not event.contains(Engine, "savepoint", listener)  # one removal: it was listening once
    finally:
        if event.contains(Engine, "savepoint", listener):
            event.remove(Engine, "savepoint", listener)


def test_the_async_driver_airflow_also_opens_is_left_alone(database, listener):
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    async def create_run() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with AsyncSession(engine) as session:
                async with session.begin_nested():  # aiosqlite's adapter has no in_transaction flag
                    await session.execute(text("INSERT INTO dag_run (run_id) VALUES ('async')"))
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(create_run())
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT run_id FROM dag_run").fetchall() == [("async",)]
