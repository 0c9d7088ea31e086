"""``airflow`` for people: the real CLI, except that a refused param is one readable line instead of a traceback.

``make demo`` writes ``.demo/bin/airflow`` calling this, and ``.demo/env.sh`` puts it first on PATH.
"""
from __future__ import annotations

import sys


def short_reason(err: BaseException) -> str:
    """``Invalid input for param X: <value> <rule>`` plus jsonschema's "Failed validating '<keyword>'" line."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    rule = next((line for line in lines[1:] if line.startswith("Failed validating")), "")
    return lines[0] + (f" ({rule.rstrip(':')})" if rule else "") if lines else repr(err)


def main() -> None:
    from airflow.__main__ import main as airflow_main

    try:
        airflow_main()
    except Exception as err:
        if type(err).__name__ != "ParamValidationError":
            raise
        print(f"airflow: the run was not created: {short_reason(err)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
