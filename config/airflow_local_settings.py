"""Airflow imports this module in every process, the CLI included, from ``$AIRFLOW_HOME/config`` (mounted
there by docker-compose.yaml; ``PYTHONPATH`` in the demo and the tests):

* the visionflow cluster policy routes tasks to Celery queues per family (plugins/visionflow_airflow/policy.py);
* a refused param on the command line is one readable line instead of a traceback
  (plugins/visionflow_airflow/cli_errors.py; ``VISIONFLOW_TRACEBACK=1`` for the traceback).
"""
from visionflow_airflow import cli_errors
from visionflow_airflow.policy import task_policy  # noqa: F401

# Only the policy is a setting; Airflow copies every other public name of this module into airflow.settings.
__all__ = ["task_policy"]

cli_errors.install()
