"""``python -m include.demo start|stop|status`` (``make demo`` / ``make stop``)."""
from __future__ import annotations

import argparse
import logging
import sys

from include.demo import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds to wait for the demo runs (start only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    layout = cli.default_layout()
    if args.command == "start":
        return cli.start(layout, args.timeout)
    if args.command == "stop":
        return cli.stop(layout)
    return cli.status(layout)


if __name__ == "__main__":
    sys.exit(main())
