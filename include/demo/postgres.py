"""A throwaway database on a PostgreSQL server for Airflow's metadata: the distributed tests and bench case 25
each take a fresh one, so runs on one machine never share a metadata database."""
from __future__ import annotations

import contextlib
import secrets
from typing import Iterator


@contextlib.contextmanager
def temporary_database(host: str, port: int, user: str, prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>`` (trust auth as ``user``), yield its SQLAlchemy URL, drop it on exit even
    while clients are still connected. Raises psycopg2's ``OperationalError`` when no server answers."""
    import psycopg2

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(dbname="postgres", host=host, port=port, user=user)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg2://{user}@{host}:{port}/{name}"
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
