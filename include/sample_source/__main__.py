"""Run the sample source as a process: ``python -m include.sample_source serve --urls-file F``.

Serves every catalogue (and moto S3) on 127.0.0.1 until SIGTERM/SIGINT. Once everything is mounted it
writes ``src.urls`` (plus ``base_url``) to the urls file atomically, so a reader either sees the complete file
or none: its appearance is the "ready" signal the demo waits for.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path

from include.sample_source.server import SampleSource

log = logging.getLogger("include.sample_source")


def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def serve(args: argparse.Namespace) -> None:
    urls_file = Path(args.urls_file)
    urls_file.unlink(missing_ok=True)  # a stale file from a previous run must not look like "ready"
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    catalogs = [c for c in args.catalogs.split(",") if c] if args.catalogs else None
    src = SampleSource(args.data_dir, port=args.port, s3_port=None if args.no_s3 else args.s3_port).start(catalogs)
    try:
        _write_atomic(urls_file, {"base_url": src.base_url, **src.urls})
        log.info("sample source ready on %s; urls in %s", src.base_url, urls_file)
        stop.wait()
    finally:
        urls_file.unlink(missing_ok=True)
        src.stop()
        log.info("sample source stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m include.sample_source")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve every catalogue and moto S3 on 127.0.0.1 until stopped")
    p.add_argument("--data-dir", required=True, help="where catalogues generate their files")
    p.add_argument("--port", type=int, default=0, help="HTTP port (0: a free one)")
    p.add_argument("--s3-port", type=int, default=0, help="moto S3 port (0: a free one)")
    p.add_argument("--urls-file", required=True, help="JSON file written when ready")
    p.add_argument("--catalogs", default="", help="comma-separated catalogues to mount (default: all)")
    p.add_argument("--no-s3", action="store_true", help="do not start moto S3")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args)


if __name__ == "__main__":
    main()
