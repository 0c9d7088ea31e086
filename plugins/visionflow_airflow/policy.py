"""A cluster policy that routes tasks to Celery queues by family, so CPU-heavy video stages run on their own
workers and never take the slots that network-bound downloads need. The DAG files stay free of deployment
details: the route comes from the DAG's tags and the deployment's environment.

Enable it by importing ``task_policy`` in ``airflow_local_settings.py`` (``config/airflow_local_settings.py``
in this repository, on the path as ``$AIRFLOW_HOME/config``) and set, on the dag-processor:
``VISIONFLOW_QUEUE_VIDEO=video`` (DAGs tagged ``video``), ``VISIONFLOW_QUEUE_IMAGES=images`` (tagged
``images``); start workers with ``airflow celery worker --queues video`` / ``--queues images,default``.
Unset variables leave tasks on the default queue.
"""
from __future__ import annotations

import os

# First matching tag wins: a DAG tagged both video and images (none today) counts as video.
ROUTES = (("video", "VISIONFLOW_QUEUE_VIDEO"), ("images", "VISIONFLOW_QUEUE_IMAGES"))


def queue_for(tags) -> str | None:
    """The queue a DAG with these tags routes to, or None for the default queue."""
    for tag, variable in ROUTES:
        if tag in tags and os.environ.get(variable):
            return os.environ[variable]
    return None


def task_policy(task) -> None:
    queue = queue_for(set(getattr(task.dag, "tags", None) or ()))
    if queue:
        task.queue = queue
