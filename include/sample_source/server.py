"""One HTTP server on 127.0.0.1 that every dataset catalogue mounts its routes on, plus moto's S3.

A catalogue is a module ``include/sample_source/<name>.py`` with ``mount(source) -> dict[str, str]``: it
generates its files under ``source.data_dir/<name>/`` (idempotently), registers handlers with
``source.mount(prefix, handler)``, and returns the URLs and params the demo and tests pass to its DAG.
"""
from __future__ import annotations

import importlib
import logging
import shutil
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

# Catalogue modules mounted by default, in order.
CATALOGS = ["openimages", "kinetics", "flickr_api", "faults", "clip", "xtune_video", "trackverse"]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # the part after the mount prefix, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]


@dataclass
class Response:
    status: int = 200
    body: bytes | Path = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    # Announce more bytes than are sent, then close: a faithful truncated transfer.
    declared_length: int | None = None
    # Writes the whole exchange itself (status line included) on the raw handler: resets, stalls, drips,
    # bodies without a length. The connection is closed afterwards.
    raw: Callable[["BaseHTTPRequestHandler"], None] | None = None


Handler = Callable[[Request], Response]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "visionflow-sample/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: route through logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def _dispatch(self, method: str) -> None:
        source: SampleSource = self.server.source  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        with source.lock:
            source.hits[parts.path] += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        for prefix, handler in source.routes:
            if parts.path == prefix or parts.path.startswith(prefix.rstrip("/") + "/"):
                req = Request(method, parts.path[len(prefix.rstrip("/")):], parse_qs(parts.query),
                              dict(self.headers), body)
                try:
                    resp = handler(req)
                except Exception:  # noqa: BLE001 - a catalogue bug answers 500, like a real server would
                    log.exception("handler for %s failed", self.path)
                    resp = Response(500, b"internal error", content_type="text/plain")
                return self._send(resp, method)
        self._send(Response(404, b"not found", content_type="text/plain"), method)

    def _send(self, resp: Response, method: str) -> None:
        if resp.raw is not None:
            self.close_connection = True
            try:
                resp.raw(self)
            except OSError:  # the client gave up first: what a misbehaving server sees all the time
                pass
            return
        data = resp.body.read_bytes() if isinstance(resp.body, Path) else resp.body
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(resp.declared_length or len(data)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if resp.declared_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self):  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections when many download threads connect at once.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients that hang up mid-response (timeouts, truncation tests) are normal here.
        log.debug("connection from %s ended abruptly", client_address)


class SampleSource:
    """The sample source: ``start()``, use ``base_url`` and ``urls``, ``stop()``."""

    def __init__(self, data_dir: str | Path, port: int = 0, s3_port: int | None = 0):
        self.data_dir = Path(data_dir).absolute()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.routes: list[tuple[str, Handler]] = []
        self.urls: dict[str, str] = {}
        self.hits: Counter[str] = Counter()  # requests per path: lets tests prove a rerun fetched nothing
        self.lock = threading.Lock()
        self._httpd = _QuietServer((HOST, port), _RequestHandler)
        self._httpd.source = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._s3_port = s3_port
        self.s3 = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def mount(self, prefix: str, handler: Handler) -> None:
        self.routes.append((prefix, handler))
        self.routes.sort(key=lambda r: -len(r[0]))  # longest prefix wins

    def start(self, catalogs: list[str] | None = None) -> "SampleSource":
        if self._s3_port is not None:
            from include.sample_source.s3 import MotoS3

            self.s3 = MotoS3(self._s3_port or free_port()).start()
            self.urls["s3_endpoint"] = self.s3.endpoint_url
        for name in catalogs if catalogs is not None else CATALOGS:
            module = importlib.import_module(f"include.sample_source.{name}")
            self.urls.update(module.mount(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sample-source", daemon=True)
        self._thread.start()
        log.info("sample source on %s", self.base_url)
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self.s3 is not None:
            self.s3.stop()

    def reset(self, name: str) -> None:
        """Remove a catalogue's generated files (tests that need a fresh copy)."""
        shutil.rmtree(self.data_dir / name, ignore_errors=True)
