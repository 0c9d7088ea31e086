"""Pieces every visionflow DAG shares: default task arguments and storage from an output root."""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Sequence

from visionflow_airflow import log_masking

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


def fail_run_when_a_step_failed(dag) -> None:
    """Make the run end failed whenever one of its steps failed, even if a report runs after it.

    Airflow sets a run's state from its leaf tasks, so a report with ``trigger_rule="all_done"`` (it must
    run after a failure to say what was lost) would turn a run whose data step failed green. This adds
    one leaf downstream of every task that runs only when one of them failed, and fails."""
    from airflow.sdk import task
    from airflow.sdk.exceptions import AirflowFailException

    @task(task_id="fail_run_on_failed_step", trigger_rule="one_failed")  # AirflowFailException: no retries
    def fail_run_on_failed_step():
        raise AirflowFailException("a step of this run failed (see the failed task's log); outputs are "
                                   "incomplete, and a rerun resumes where it stopped")

    watcher = fail_run_on_failed_step()
    for other in dag.tasks:
        if other is not watcher.operator:
            other >> watcher


def storage_for(output_root: str, aws_conn_id: str = "aws_default"):
    """Storage for a local path or s3:// root; S3 credentials/endpoint come from an Airflow connection."""
    from include.visionflow.storage import open_storage

    if not str(output_root).startswith("s3://"):
        return open_storage(str(output_root))
    from visionflow_airflow.hooks.s3 import s3_options

    return open_storage(str(output_root), s3_options(aws_conn_id))


def is_set(value: Any) -> bool:
    """A templated value that was left empty (``None`` renders as ``"None"`` in string templates)."""
    return value not in (None, "", "None")


def as_int(value: Any, name: str, default: int | None = None) -> int | None:
    """A templated number; a clear error naming the argument instead of a ``ValueError`` traceback."""
    from include.visionflow.errors import BadInputError

    if not is_set(value):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{name} must be a whole number, got {value!r}") from None


def as_bool(value: Any) -> bool:
    """A templated flag: ``"False"``/``"0"``/``""`` are false (``bool("False")`` is not)."""
    return str(value).strip().lower() not in ("", "0", "false", "none", "no")


def as_list(value: Any) -> list[str]:
    """A templated list, or a comma-separated string of one."""
    if not is_set(value):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def shard_xcom(stats) -> dict:
    """The one XCom shape of a processed shard: its id, item count and counts per status."""
    return {"shard": stats.shard_id, "items": stats.total, "counts": stats.counts, "reused": stats.reused}


def shard_specs(xcoms: Any) -> list:
    """The plan's XCom (a list of shard dicts, or nothing when the plan mapped no shards) as ShardSpecs: what
    summary and report operators read back."""
    from include.visionflow.shards import ShardSpec

    return [ShardSpec.from_xcom(s) for s in xcoms or []]


def _operator_base():
    from airflow.sdk import BaseOperator
    from airflow.sdk.exceptions import AirflowFailException

    class VisionflowOperator(BaseOperator):
        """Base of visionflow operators: owns the output root and its storage; subclasses implement
        ``run(context)`` and call one engine function.

        :param output_root: local folder or ``s3://bucket/prefix`` (templated)
        :param aws_conn_id: the Airflow aws connection used for an s3:// root

        Bad input (a wrong URL, a malformed file, an impossible param) fails the task at once, without
        retries: retrying cannot fix it, and the message already names the input and the fix. Any other
        error fails the task and Airflow retries it; finished items are kept and skipped on the retry.
        """

        template_fields: Sequence[str] = ("output_root",)

        def __init__(self, *, output_root: str = "", aws_conn_id: str = "aws_default", **kwargs):
            super().__init__(**kwargs)
            self.output_root, self.aws_conn_id = output_root, aws_conn_id

        def storage(self, root: str | None = None):
            """Storage for ``root`` (default: the output root); S3 settings from ``aws_conn_id``."""
            from include.visionflow.errors import BadInputError

            root = self.output_root if root is None else root
            if not is_set(root):
                raise BadInputError(f"{self.task_id}: no output root given; set the output_root param")
            return storage_for(str(root), self.aws_conn_id)

        def execute(self, context):
            from include.visionflow.errors import BadInputError
            from include.visionflow.storage import release_staging

            try:
                return self.run(context)
            except BadInputError as err:
                raise AirflowFailException(str(err)) from err
            finally:
                # Here, not at exit: the task runner reports success before it exits (task_runner.run, then
                # finalize), so the next task (the report) can start while this process still lives, and
                # would have to keep its folder as a live process's.
                release_staging()

    return VisionflowOperator


VisionflowOperator = _operator_base()

# Every DAG file imports this module: the mask is in place before any task of the process logs.
log_masking.install()
