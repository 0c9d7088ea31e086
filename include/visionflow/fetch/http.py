"""The fetcher: where every image, video and API page is requested.

One ``requests.Session`` per thread with pooled connections; urllib3's ``Retry`` does the exponential
backoff with jitter and honours ``Retry-After`` on 429/503 (capped, so a hostile server cannot park a
worker). Redirects are followed by hand so every hop passes the address guard, and connections dial only
the addresses the guard checked (``pinned.py``). Bodies are bounded by ``max_bytes``; a body shorter than
its Content-Length is ``truncated``. All tries of one URL share one ``total_timeout`` (``deadline.py``).
A response whose ``X-Robots-Tag`` opts out of AI use is not kept (``OptedOut``). Failures raise
``FetchError`` with a reason code that ends up in the manifest.
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
from urllib3.util.retry import Retry

from include.visionflow import settings
from include.visionflow.errors import FetchError, RefusedURL
from include.visionflow.fetch import deadline
from include.visionflow.fetch.guard import check_url
from include.visionflow.fetch.limit import HostLimiter
from include.visionflow.fetch.pinned import PinnedAdapter

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 5
CHUNK = 256 * 1024
T = TypeVar("T")


# X-Robots-Tag directives that opt a response out of AI training sets (the ones img2dataset honours);
# "none" is robots shorthand for "noindex, nofollow".
OPT_OUT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")
ROBOTS_UA_TOKEN = "visionflow"
# Total deadlines (seconds) per kind of fetch: all connects, reads, retries and backoffs of one URL.
IMAGE_DEADLINE = 120.0
API_DEADLINE = 180.0
VIDEO_DEADLINE = 3600.0
METADATA_DEADLINE = 3600.0


class OptedOut(RefusedURL):
    """The server asked, through X-Robots-Tag, that this content not be used: counted, never stored."""

    def __init__(self, detail: str):
        FetchError.__init__(self, "opted_out", detail)


@dataclass(frozen=True)
class FetchConfig:
    """``total_timeout``: one URL's whole budget (None: no total limit); ``opt_out``: X-Robots-Tag
    directives that make a response be refused (empty for API pages and metadata files)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_bytes: int = 64 * 1024 * 1024
    per_host: int = 16
    pool_size: int = 32
    user_agent: str = ""  # empty: settings.user_agent() (VISIONFLOW_CONTACT_URL / VISIONFLOW_USER_AGENT)
    total_timeout: float | None = IMAGE_DEADLINE
    opt_out: tuple[str, ...] = OPT_OUT_DIRECTIVES


def robots_opt_out(values: list[str], directives: tuple[str, ...], ua_token: str = ROBOTS_UA_TOKEN) -> str | None:
    """The first of ``directives`` that the X-Robots-Tag header ``values`` apply to us, or None.

    Each header value is ``[agent:] directive, directive, ...``; an agent prefix scopes the directives
    after it (Google's syntax), and only agent-less ones and those for ``ua_token`` concern us.
    """
    wanted = {d.lower() for d in directives}
    if not wanted:
        return None
    for value in values:
        agent = "*"
        for token in value.split(","):
            token = token.strip().lower()
            if ":" in token:
                head, _, rest = token.partition(":")
                if head.strip() and " " not in head.strip() and not head.strip().startswith("unavailable_after"):
                    agent, token = head.strip(), rest.strip()
            if agent not in ("*", ua_token.lower()):
                continue
            found = {"noindex"} if token == "none" else {token}
            hit = found & wanted
            if hit:
                return hit.pop()
    return None


class _CappedRetry(Retry):
    """Retry whose Retry-After wait is capped at ``backoff_max`` seconds, and which gives up instead of
    sleeping past the fetch's total deadline."""

    def get_retry_after(self, response):  # type: ignore[override]
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.backoff_max)

    def sleep(self, response=None) -> None:  # type: ignore[override]
        current = deadline.current()
        if current is not None:
            after = self.get_retry_after(response) if response is not None else None
            wait = after if after else self.get_backoff_time()
            if wait >= current.remaining():
                current.expired = True
                raise current.error()
        super().sleep(response)


class Fetcher:
    """Thread-safe: share one per worker process."""

    def __init__(self, config: FetchConfig | None = None):
        from include.visionflow import logmask

        logmask.install()  # library loggers print request URLs and signed headers at DEBUG
        self.config = config or FetchConfig()
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
            adapter = PinnedAdapter(max_retries=retry, pool_connections=c.pool_size, pool_maxsize=c.pool_size)
            session = requests.Session()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = c.user_agent or settings.user_agent()
            self._local.session = session
        return session

    @staticmethod
    def _mask(text: str) -> str:
        # Error details end up in manifests and task logs: the same mask as every log record.
        from include.visionflow import logmask

        return logmask.mask(text)

    def _raise_for(self, err: requests.exceptions.RequestException) -> None:
        if isinstance(err, requests.exceptions.RetryError):
            raise FetchError("retries_exhausted", self._mask(str(err))) from None
        if isinstance(err, requests.exceptions.Timeout):
            raise FetchError("timeout", self._mask(str(err))) from None
        if isinstance(err, requests.exceptions.ConnectionError):
            raise FetchError("connection", self._mask(str(err))) from None
        raise FetchError("request", self._mask(str(err))) from None

    def _open(self, url: str, params: dict | None, headers: dict | None, auth: Any) -> requests.Response:
        """GET with guarded manual redirects; returns a streaming 2xx response or raises FetchError."""
        current = deadline.current()
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url)
            host = urlsplit(url).hostname or ""
            with self._hosts.slot(host):
                timeout = (self.config.connect_timeout, self.config.read_timeout)
                if current is not None:
                    current.check()
                    timeout = tuple(min(t, max(current.remaining(), 0.01)) for t in timeout)
                try:
                    resp = self.session.get(
                        url, params=params, headers=headers, auth=auth, timeout=timeout,
                        stream=True, allow_redirects=False,
                    )
                except requests.exceptions.RequestException as err:
                    if current is not None and current.expired:
                        raise current.error() from None
                    self._raise_for(err)
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
            directive = robots_opt_out(resp.raw.headers.getlist("X-Robots-Tag"), self.config.opt_out)
            if directive:
                resp.close()
                raise OptedOut(f"X-Robots-Tag {directive} on {self._mask(resp.url)}")
            return resp
        raise FetchError("too_many_redirects", self._mask(url))

    def _chunks(self, resp: requests.Response) -> Iterator[bytes]:
        """Body chunks, enforcing max_bytes (on decoded bytes) and the announced length (on the bytes
        that came over the wire, which differ when the body is gzip-encoded)."""
        limit = self.config.max_bytes
        announced = resp.headers.get("Content-Length")
        announced = int(announced) if announced and announced.isdigit() else None
        if announced is not None and announced > limit:
            raise FetchError("too_large", f"Content-Length {announced} > limit {limit}")
        received = 0
        current = deadline.current()
        try:
            for chunk in resp.iter_content(CHUNK):
                received += len(chunk)
                if received > limit:
                    raise FetchError("too_large", f"body exceeds limit {limit}")
                if current is not None:
                    current.check()
                yield chunk
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as err:
            if current is not None and current.expired:
                raise current.error() from None
            raise FetchError("truncated", self._mask(f"after {received} bytes: {err}")) from None
        except requests.exceptions.Timeout as err:
            raise FetchError("timeout", self._mask(f"after {received} bytes: {err}")) from None
        if current is not None:
            current.check()  # a shut-down socket can also look like a clean end of body
        on_wire = resp.raw.tell()
        if announced is not None and on_wire < announced:
            raise FetchError("truncated", f"got {on_wire} of {announced} bytes")

    def _with_body_retries(self, url: str, params: dict | None, headers: dict | None, auth: Any,
                           consume: Callable[[requests.Response], T]) -> T:
        """Open and ``consume`` the body; a body cut short or stalled mid-way is fetched again, all within
        the total deadline. (urllib3's Retry only covers failures before the headers arrive.)"""
        with deadline.enter(self.config.total_timeout, self._mask(url)):
            last: FetchError | None = None
            for _ in range(self.config.retries + 1):
                resp = self._open(url, params, headers, auth)
                try:
                    return consume(resp)
                except FetchError as err:
                    current = deadline.current()
                    if err.reason not in ("truncated", "timeout") or (current is not None and current.expired):
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


def image_fetcher(deadline_s: Any = IMAGE_DEADLINE, opt_out: Any = OPT_OUT_DIRECTIVES) -> Fetcher:
    """The fetcher for one shard of images, from DAG params (``fetch_deadline_s``, ``opt_out_directives``)."""
    from include.visionflow.errors import BadInputError

    try:
        seconds = float(deadline_s)
    except (TypeError, ValueError):
        raise BadInputError(f"fetch_deadline_s {deadline_s!r} is not a number of seconds") from None
    if not 1 <= seconds <= 86400:
        raise BadInputError(f"fetch_deadline_s {seconds:g} out of range 1..86400 seconds")
    if isinstance(opt_out, str):
        opt_out = [d for d in re.split(r"[,\s]+", opt_out) if d]
    directives = tuple(str(d).strip().lower() for d in (opt_out or ()))
    return Fetcher(FetchConfig(total_timeout=seconds, opt_out=directives))
