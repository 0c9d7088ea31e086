"""Airflow imports this module in every process, the CLI included, from ``$AIRFLOW_HOME/config`` (mounted
there by docker-compose.yaml; on ``PYTHONPATH`` in the demo, the tests and the benchmarks):

* the visionflow cluster policy routes tasks to Celery queues per family (plugins/visionflow_airflow/policy.py);
* a refused param on the command line is one readable line instead of a traceback
  (plugins/visionflow_airflow/cli_errors.py; ``VISIONFLOW_TRACEBACK=1`` for the traceback);
* on SQLite, a transaction that opens with a SAVEPOINT takes the write lock first, so ``airflow backfill create``
  does not die with "database is locked" while the scheduler works (plugins/visionflow_airflow/sqlite_savepoints.py).
"""
from visionflow_airflow import cli_errors, sqlite_savepoints
from visionflow_airflow.policy import task_policy  # noqa: F401

# Only the policy is a setting; Airflow copies every other public name of this module into airflow.settings.
__all__ = ["task_policy"]

cli_errors.install()
sqlite_savepoints.install()
