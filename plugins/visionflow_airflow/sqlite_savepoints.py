"""SQLite: a transaction that opens with a SAVEPOINT takes the write lock at once, so a commit by another process
cannot make it fail with "database is locked".

Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE. A SAVEPOINT sent first (SQLAlchemy's
``session.begin_nested()``, as ``airflow backfill create`` does for each run it creates) therefore starts a
*deferred* SQLite transaction: its SELECTs read a snapshot, and its first write must upgrade that snapshot. In
WAL mode (Airflow's setting) SQLite refuses the upgrade at once, without waiting out the busy timeout, when
another connection committed in between: the scheduler picking up the backfill's first run did, and the CLI
died creating the second (tests/dags/test_scheduler_backfill.py, about one run in three with the scheduler
looping every 0.25 s). ``BEGIN IMMEDIATE`` before such a SAVEPOINT takes the write lock first, waiting its turn
behind other writers, so nothing can commit between the transaction's reads and its writes.

:func:`install` (from ``config/airflow_local_settings.py``, which every airflow process imports before it opens
the database) listens on every SQLAlchemy engine; other databases and transactions already under way are
left alone.
"""
from __future__ import annotations

def begin_immediate_before_first_savepoint(conn, name) -> None:
    """SQLAlchemy ``savepoint`` listener: runs before the SAVEPOINT is sent."""
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    # sqlite3's own flag; a driver without it (SQLAlchemy's aiosqlite adapter) is left as it is
    if getattr(dbapi, "in_transaction", None) is False:
        dbapi.execute("BEGIN IMMEDIATE")


def install() -> None:
    """Listen on every engine, once (importing the settings module twice does not add a second listener)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "savepoint", begin_immediate_before_first_savepoint):
        event.listen(Engine, "savepoint", begin_immediate_before_first_savepoint)
