"""The fetcher against a real HTTP server on 127.0.0.1 whose routes misbehave on purpose."""
from __future__ import annotations

import threading

import pytest

from include.sample_source.server import Request, Response, SampleSource
from include.visionflow import logmask
from include.visionflow.errors import FetchError, RefusedURL
from include.visionflow.fetch.guard import check_url
from include.visionflow.fetch.http import FetchConfig, Fetcher
from include.visionflow.fetch.limit import RateLimiter

BODY = bytes(range(256)) * 64


class Faults:
    def __init__(self):
        self.calls: dict[str, int] = {}
        self.release = threading.Event()

    def __call__(self, req: Request) -> Response:
        name = req.path.strip("/")
        self.calls[name] = self.calls.get(name, 0) + 1
        n = self.calls[name]
        if name == "ok":
            return Response(body=BODY)
        if name == "429-once":
            return Response(429, b"", headers={"Retry-After": "1"}) if n == 1 else Response(body=BODY)
        if name == "503-always":
            return Response(503, b"busy", headers={"Retry-After": "0"})
        if name == "truncated":
            return Response(body=BODY[:100], declared_length=len(BODY))
        if name == "redirect-ok":
            return Response(302, headers={"Location": "/faults/ok"})
        if name == "redirect-ftp":
            return Response(302, headers={"Location": "ftp://127.0.0.1/x"})
        if name == "slow":
            self.release.wait(5)
            return Response(body=BODY)
        if name == "echo":
            return Response(body=repr(req.query).encode())
        return Response(404, b"nope")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    source = SampleSource(tmp_path_factory.mktemp("faults"), s3_port=None)
    faults = Faults()
    source.mount("/faults", faults)
    source.start(catalogs=[])
    yield source, faults
    faults.release.set()
    source.stop()


@pytest.fixture
def fetcher():
    return Fetcher(FetchConfig(retries=2, backoff=0.01, max_backoff=2, read_timeout=0.5, max_bytes=len(BODY) + 10))


def url(server, name):
    return f"{server[0].base_url}/faults/{name}"


def test_ok_and_redirect(server, fetcher):
    assert fetcher.fetch_bytes(url(server, "ok")) == BODY
    assert fetcher.fetch_bytes(url(server, "redirect-ok")) == BODY


def test_429_then_success_honours_retry_after(server, fetcher):
    assert fetcher.fetch_bytes(url(server, "429-once")) == BODY
    assert server[1].calls["429-once"] == 2


def test_persistent_503_exhausts_retries(server, fetcher):
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(url(server, "503-always"))
    assert err.value.reason in ("retries_exhausted", "http_503")
    assert server[1].calls["503-always"] == 3  # first try + 2 retries


def test_404_has_a_reason_code(server, fetcher):
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(url(server, "missing"))
    assert err.value.reason == "http_404" and err.value.status_code == 404


def test_truncated_body_is_detected(server, fetcher, tmp_path):
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(url(server, "truncated"))
    assert err.value.reason == "truncated"
    with pytest.raises(FetchError):
        fetcher.download_to(url(server, "truncated"), tmp_path / "t.bin")
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_body_over_the_limit_is_refused(server):
    small = Fetcher(FetchConfig(retries=0, max_bytes=1000))
    with pytest.raises(FetchError) as err:
        small.fetch_bytes(url(server, "ok"))
    assert err.value.reason == "too_large"


def test_read_timeout(server):
    fetcher = Fetcher(FetchConfig(retries=0, read_timeout=0.2))
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(url(server, "slow"))
    assert err.value.reason in ("timeout", "connection", "retries_exhausted")


def test_download_to_renames_complete_file(server, fetcher, tmp_path):
    dest = tmp_path / "sub" / "file.bin"
    assert fetcher.download_to(url(server, "ok"), dest) == len(BODY)
    assert dest.read_bytes() == BODY


def test_redirect_to_other_scheme_is_refused(server, fetcher):
    with pytest.raises(RefusedURL):
        fetcher.fetch_bytes(url(server, "redirect-ftp"))


def test_secret_params_are_masked_in_errors(server):
    fetcher = Fetcher(FetchConfig(retries=0))
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(url(server, "missing"), params={"api_key": "TOPSECRET123", "q": "x"})
    assert "TOPSECRET123" not in str(err.value) and "api_key=***" in str(err.value)
    assert logmask.mask("a?api_key=abc&b=1") == "a?api_key=***&b=1"


@pytest.mark.parametrize("bad", [
    "ftp://example.com/a.jpg", "file:///etc/passwd", "http://127.0.0.1/x", "http://10.0.0.1/x",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/x", "http://192.168.1.1/", "gopher://x", "http:///nohost",
])
def test_guard_refuses_non_public_targets(bad, monkeypatch):
    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    with pytest.raises(RefusedURL):
        check_url(bad)


def test_guard_allows_public_and_private_when_enabled(monkeypatch):
    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    check_url("https://8.8.8.8/x.jpg")  # a literal public address: no DNS, no traffic
    monkeypatch.setenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", "1")
    check_url("http://127.0.0.1:9/x")
    with pytest.raises(RefusedURL):
        check_url("ftp://127.0.0.1/x")  # the scheme rule holds regardless


def test_rate_limiter_spaces_requests():
    limiter = RateLimiter(per_hour=3600 * 50, burst=1)  # one per 20 ms
    waited = sum(limiter.acquire() for _ in range(4))
    assert waited > 0  # the bucket had to refill between acquisitions
    with pytest.raises(ValueError):
        RateLimiter(0)
