"""Connection arguments for Airflow's SQLite database on one machine (``[database] sql_alchemy_connect_args``).

SQLite takes one writer at a time and a writer waits ``timeout`` seconds for the lock (Python's default is 5).
With the scheduler looping four times a second, a slow or busy machine kept it writing long enough that
``airflow backfill create`` failed with "database is locked" (tests/dags/test_scheduler_backfill.py under two busy
loops: 3 of 6 runs failed at 5 s, 0 of 6 at 30 s). Waiting longer costs nothing when the lock is free.
"""
CONNECT_ARGS = {"timeout": 30}
# The api-server's async engine (aiosqlite passes it on to sqlite3.connect); a dict of its own because Airflow
# adds check_same_thread to the sync one.
CONNECT_ARGS_ASYNC = {"timeout": 30}
