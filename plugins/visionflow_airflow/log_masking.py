"""Airflow's secrets masker on every structlog event of the process, as the engine masks every stdlib record.

Airflow 3 logs through structlog, and its structlog loggers (task runner, supervisor, operators' ``self.log``)
never create a ``logging.LogRecord``: neither the engine's record factory (``include/visionflow/logmask.py``)
nor the ``mask_secrets_core`` filter on Airflow's stdlib handlers sees them. Where the Task SDK configures
logging (a task's supervisor), Airflow ends the chain with its own ``mask_logs``; where Airflow core does
(the process running ``dag.test()`` or ``airflow dags test``), the chain has no masking processor at all.
There the in-process supervisor logs each request of the task runner at DEBUG, and each connection the task
reads sends its password and extra as ``MaskSecret(value=...)`` (issue 28: the S3 secret and the
``visionflow_api`` password in plain text; the subprocess supervisor omits that body, this one does not).

``install()`` puts Airflow's own ``mask_logs`` into the chain rather than patching the supervisor: the masker
already holds every secret the task fetched (``mask_secret`` registers the value before it sends the
request), and the fix then covers any event with a secret, not this one line. The masker walks strings,
dicts and lists but leaves other objects (a pydantic message) to the renderer's ``repr``; so values whose
``repr`` holds a secret are replaced by their masked ``repr``, which is what the renderer would have printed.
"""
from __future__ import annotations

from typing import Any

# Rendered by structlog's exception formatters, not by repr: left as they are.
_EXCEPTION_KEYS = frozenset({"exc_info", "exception", "stack"})
_PLAIN = (int, float, bool, type(None))


def _mask_text(text: str) -> str:
    from airflow.sdk.log import redact

    from include.visionflow import logmask

    return logmask.mask(redact(text))


def mask_event(logger: Any, method_name: str, event_dict: dict) -> dict:
    """structlog processor: Airflow's masker (by key name and by value), then the engine's name patterns."""
    from airflow.sdk.log import mask_logs

    event_dict = mask_logs(logger, method_name, event_dict)
    for key, value in event_dict.items():
        if key in _EXCEPTION_KEYS or isinstance(value, _PLAIN):
            continue
        if isinstance(value, str):
            event_dict[key] = _mask_text(value)
            continue
        text = repr(value)
        masked = _mask_text(text)
        if masked != text:
            event_dict[key] = masked
    return event_dict


def install() -> None:
    """Mask every structlog event of this process just before it is rendered (idempotent).

    Loggers structlog already cached keep the chain they were bound with, so this runs when the plugin is
    imported (DAG parsing), before any task of the process starts logging."""
    import structlog

    processors = list(structlog.get_config()["processors"])
    if mask_event in processors:
        return
    # Before the renderer (the last processor), after positional arguments were formatted into the event.
    processors.insert(max(len(processors) - 1, 0), mask_event)
    structlog.configure(processors=processors)
