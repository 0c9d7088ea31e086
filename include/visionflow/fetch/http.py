"""The fetcher: where every image, video and API page is requested.

One ``requests.Session`` per thread with pooled connections; urllib3's ``Retry`` does the exponential
backoff with jitter and honours ``Retry-After`` on 429/503 (capped, so a hostile server cannot park a
worker). Redirects are followed by hand so every hop passes the address guard. Bodies are bounded by
``max_bytes``; a body shorter than its Content-Length is ``truncated``. Failures raise ``FetchError`` with
a reason code that ends up in the manifest.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from include.visionflow.errors import FetchError
from include.visionflow.fetch.guard import check_url
from include.visionflow.fetch.limit import HostLimiter

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 5
CHUNK = 256 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class FetchConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_bytes: int = 64 * 1024 * 1024
    per_host: int = 16
    pool_size: int = 32
    user_agent: str = "visionflow/0.1 (+dataset builder)"


class _CappedRetry(Retry):
    """Retry whose Retry-After wait is capped at ``backoff_max`` seconds."""

    def get_retry_after(self, response):  # type: ignore[override]
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.backoff_max)


def mask_secrets(text: str, secret_params: tuple[str, ...]) -> str:
    """Replace the values of secret query parameters (``api_key=...``) with ``***``."""
    for name in secret_params:
        text = re.sub(rf"({re.escape(name)}=)[^&\s'\"]+", r"\1***", text)
    return text


class Fetcher:
    """Thread-safe: share one per worker process."""

    def __init__(self, config: FetchConfig | None = None, secret_params: tuple[str, ...] = ()):
        self.config = config or FetchConfig()
        self.secret_params = secret_params
        self._local = threading.local()
        self._hosts = HostLimiter(self.config.per_host)

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            c = self.config
            retry = _CappedRetry(
                total=c.retries,
                connect=c.retries,
                read=c.retries,
                status=c.retries,
                redirect=0,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=frozenset({"GET", "HEAD"}),
                backoff_factor=c.backoff,
                backoff_max=c.max_backoff,
                backoff_jitter=c.backoff / 2,
                respect_retry_after_header=True,
                raise_on_status=False,
            )
            adapter = HTTPAdapter(max_retries=retry, pool_connections=c.pool_size, pool_maxsize=c.pool_size)
            session = requests.Session()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = c.user_agent
            self._local.session = session
        return session

    def _mask(self, text: str) -> str:
        return mask_secrets(text, self.secret_params) if self.secret_params else text

    def _open(self, url: str, params: dict | None, headers: dict | None, auth: Any) -> requests.Response:
        """GET with guarded manual redirects; returns a streaming 2xx response or raises FetchError."""
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url)
            host = urlsplit(url).hostname or ""
            with self._hosts.slot(host):
                try:
                    resp = self.session.get(
                        url, params=params, headers=headers, auth=auth, timeout=timeout,
                        stream=True, allow_redirects=False,
                    )
                except requests.exceptions.RetryError as err:
                    raise FetchError("retries_exhausted", self._mask(str(err))) from None
                except requests.exceptions.Timeout as err:
                    raise FetchError("timeout", self._mask(str(err))) from None
                except requests.exceptions.ConnectionError as err:
                    raise FetchError("connection", self._mask(str(err))) from None
                except requests.exceptions.RequestException as err:
                    raise FetchError("request", self._mask(str(err))) from None
            if resp.is_redirect:
                location = resp.headers.get("Location", "")
                resp.close()
                url, params = urljoin(resp.url, location), None
                continue
            if resp.status_code >= 400:
                resp.close()
                raise FetchError(
                    f"http_{resp.status_code}", self._mask(f"{resp.reason} for {resp.url}"), resp.status_code
                )
            return resp
        raise FetchError("too_many_redirects", self._mask(url))

    def _chunks(self, resp: requests.Response) -> Iterator[bytes]:
        """Body chunks, enforcing max_bytes and the announced length."""
        limit = self.config.max_bytes
        announced = resp.headers.get("Content-Length")
        if announced and announced.isdigit() and int(announced) > limit:
            raise FetchError("too_large", f"Content-Length {announced} > limit {limit}")
        received = 0
        try:
            for chunk in resp.iter_content(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise FetchError("too_large", f"body exceeds limit {limit}")
                yield chunk
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as err:
            raise FetchError("truncated", self._mask(f"after {received} bytes: {err}")) from None
        except requests.exceptions.Timeout as err:
            raise FetchError("timeout", self._mask(f"after {received} bytes: {err}")) from None
        if announced and announced.isdigit() and received < int(announced):
            raise FetchError("truncated", f"got {received} of {announced} bytes")

    def _with_body_retries(self, url: str, params: dict | None, headers: dict | None, auth: Any,
                           consume: Callable[[requests.Response], T]) -> T:
        """Open and ``consume`` the body; a body cut short or stalled mid-way is fetched again.
        (urllib3's Retry only covers failures before the headers arrive.)"""
        last: FetchError | None = None
        for _ in range(self.config.retries + 1):
            resp = self._open(url, params, headers, auth)
            try:
                return consume(resp)
            except FetchError as err:
                if err.reason not in ("truncated", "timeout"):
                    raise
                last = err
            finally:
                resp.close()
        assert last is not None
        raise last

    def fetch_bytes(self, url: str, params: dict | None = None, headers: dict | None = None,
                    auth: Any = None) -> bytes:
        """The whole body in memory (images, API pages)."""
        return self._with_body_retries(url, params, headers, auth, lambda resp: b"".join(self._chunks(resp)))

    def get_json(self, url: str, params: dict | None = None, headers: dict | None = None,
                 auth: Any = None) -> Any:
        import json

        body = self.fetch_bytes(url, params=params, headers=headers, auth=auth)
        try:
            return json.loads(body)
        except ValueError:
            raise FetchError("bad_json", f"{len(body)} bytes that are not JSON from {self._mask(url)}") from None

    def download_to(self, url: str, dest: str | Path, headers: dict | None = None) -> int:
        """Stream to a temp file next to ``dest`` and rename it into place when complete."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)

        def save(resp: requests.Response) -> int:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            try:
                size = 0
                with os.fdopen(fd, "wb") as fh:
                    for chunk in self._chunks(resp):
                        fh.write(chunk)
                        size += len(chunk)
                os.replace(tmp, dest)
                return size
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)

        return self._with_body_retries(url, None, headers, None, save)
