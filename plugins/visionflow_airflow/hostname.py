"""``[core] hostname_callable`` for several Celery workers on one host.

Airflow records ``getfqdn()`` as each task instance's hostname, so two workers on one machine look like one.
Set ``AIRFLOW__CORE__HOSTNAME_CALLABLE=visionflow_airflow.hostname.worker_hostname`` and give each worker
``VISIONFLOW_WORKER_NAME`` (e.g. ``w1``): its tasks then report ``<fqdn>-w1``. Without the variable it is
``getfqdn()``, as Airflow's default. (Containers and pods have a hostname of their own and need neither.)
"""
from __future__ import annotations

import os
import re
import socket


def worker_hostname() -> str:
    host = socket.getfqdn()
    name = re.sub(r"[^A-Za-z0-9-]+", "-", os.environ.get("VISIONFLOW_WORKER_NAME", "")).strip("-")
    return f"{host}-{name}" if name else host
