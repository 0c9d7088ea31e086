"""Pieces every visionflow DAG shares: default task arguments and storage from an output root."""
from __future__ import annotations

import os
from datetime import timedelta

OWNER = "visionflow"


def default_args(retries: int = 2, retry_delay: timedelta | None = None) -> dict:
    """Retries with exponential backoff for every task; item failures never fail a task, so a retry
    means an infrastructure problem (network, storage) worth another try. The first delay is 30 s, or
    ``VISIONFLOW_RETRY_DELAY_S`` seen by the dag-processor (a cluster that replaces lost workers fast)."""
    if retry_delay is None:
        retry_delay = timedelta(seconds=float(os.environ.get("VISIONFLOW_RETRY_DELAY_S") or 30))
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    }


def dag_kwargs(doc_md: str, tags: list[str]) -> dict:
    return {
        "doc_md": doc_md,
        "tags": ["visionflow", *tags],
        "default_args": default_args(),
        "max_active_runs": 4,
        "render_template_as_native_obj": True,
    }


def storage_for(output_root: str, aws_conn_id: str = "aws_default"):
    """Storage for a local path or s3:// root; S3 credentials/endpoint come from an Airflow connection."""
    from include.visionflow.storage import open_storage

    if not str(output_root).startswith("s3://"):
        return open_storage(str(output_root))
    from visionflow_airflow.hooks.s3 import s3_options

    return open_storage(str(output_root), s3_options(aws_conn_id))


def _operator_base():
    from airflow.sdk import BaseOperator
    from airflow.sdk.exceptions import AirflowFailException

    class VisionflowOperator(BaseOperator):
        """Base of visionflow operators: subclasses implement ``run(context)``.

        Bad input (a wrong URL, a malformed file, an impossible param) fails the task at once, without
        retries: retrying cannot fix it, and the message already names the input and the fix.
        """

        def execute(self, context):
            from include.visionflow.errors import BadInputError

            try:
                return self.run(context)
            except BadInputError as err:
                raise AirflowFailException(str(err)) from err

    return VisionflowOperator


VisionflowOperator = _operator_base()
