"""Airflow loads this module from ``$AIRFLOW_HOME/config`` (mounted there by docker-compose.yaml): the
visionflow cluster policy routes tasks to Celery queues per family (plugins/visionflow_airflow/policy.py)."""
from visionflow_airflow.policy import task_policy  # noqa: F401
