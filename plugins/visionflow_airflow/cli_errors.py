"""One readable line instead of a traceback when the ``airflow`` CLI refuses a param.

``airflow dags trigger <dag> --conf '<bad>'`` lets Airflow's ``ParamValidationError`` (raised while the run
is created, before it exists) escape ``airflow.__main__.main``, and Python prints ~55 lines of traceback with
the param and the rule buried in them. :func:`install` (called from ``config/airflow_local_settings.py``,
which every airflow process imports at start, the CLI included) adds a ``sys.excepthook`` that prints, for
that error and visionflow's ``BadInputError``, ``airflow: the run was not created: Invalid input for param
<name>: <value> <rule> (Failed validating '<keyword>' ...)`` on stderr; the process then exits 1 as Python
does for any uncaught exception. ``VISIONFLOW_TRACEBACK=1`` prints the full traceback as before. Every other
exception goes to the hook that was there.
"""
from __future__ import annotations

import os
import sys

TRACEBACK_ENV = "VISIONFLOW_TRACEBACK"
READABLE = ("ParamValidationError", "BadInputError")


def short_reason(err: BaseException) -> str:
    """``Invalid input for param X: <value> <rule>`` plus jsonschema's "Failed validating '<keyword>'" line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    rule = next((line for line in lines[1:] if line.startswith("Failed validating")), "")
    return lines[0] + (f" ({rule.rstrip(':')})" if rule else "") if lines else repr(err)


def _named(err: BaseException, *names: str) -> bool:
    return any(cls.__name__ in names for cls in type(err).__mro__)


def is_readable(err: BaseException) -> bool:
    """A refused input: matched by class name along the MRO, since Airflow has had ParamValidationError in
    ``airflow.exceptions`` and ``airflow.sdk.exceptions`` (importing either here would slow every process)."""
    return _named(err, *READABLE)


def _hook(previous):
    def hook(kind, err, tb):
        if is_readable(err) and os.environ.get(TRACEBACK_ENV, "") in ("", "0"):
            what = "the run was not created: " if _named(err, "ParamValidationError") else ""
            print(f"airflow: {what}{short_reason(err)}\n(set {TRACEBACK_ENV}=1 for the traceback)",
                  file=sys.stderr)
            return
        previous(kind, err, tb)

    hook.visionflow = True
    return hook


def install() -> None:
    """Wrap the current ``sys.excepthook`` once (importing twice does not stack hooks)."""
    if not getattr(sys.excepthook, "visionflow", False):
        sys.excepthook = _hook(sys.excepthook)
