"""``airflow`` for people: the real CLI, except that a refused param is one readable line instead of a traceback.

``make demo`` writes ``.demo/bin/airflow`` calling this, and ``.demo/env.sh`` puts it first on PATH. It installs
the same hook as ``config/airflow_local_settings.py`` does for the plain CLI (``visionflow_airflow.cli_errors``),
so the hook holds even in a shell whose PYTHONPATH lacks ``config/`` (installing it twice does not stack).
"""
from __future__ import annotations


def main() -> None:
    from airflow.__main__ import main as airflow_main  # importing airflow puts plugins/ on sys.path

    from visionflow_airflow import cli_errors

    cli_errors.install()
    airflow_main()


if __name__ == "__main__":
    main()
