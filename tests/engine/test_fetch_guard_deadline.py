"""Issue 12 fixes 1, 2, opt-out and issue 9's total deadline, against real servers on 127.0.0.1."""
from __future__ import annotations

import gzip
import hashlib
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include.sample_source.server import Response, SampleSource
from include.visionflow.errors import FetchError, RefusedURL
from include.visionflow.fetch import guard
from include.visionflow.fetch.http import FetchConfig, Fetcher, OptedOut, robots_opt_out
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import write_shards
from include.visionflow.storage import LocalStorage

DRIP_BYTES = 200


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


class _Drip(BaseHTTPRequestHandler):
    """/drip: announces 200 bytes, then sends one every 0.3 s (60 s for the whole body)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Length", str(DRIP_BYTES))
            self.end_headers()
            try:
                for _ in range(DRIP_BYTES):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                pass  # the client gave up, as it should
            return
        body = {"/png": PNG, "/png-noai": PNG, "/host": self.headers.get("Host", "").encode()}.get(self.path, b"")
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/png-noai":
            self.send_header("X-Robots-Tag", "max-snippet: 20")
            self.send_header("X-Robots-Tag", "visionflow: noimageai")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def drip_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    source = SampleSource(tmp_path_factory.mktemp("robots"), s3_port=None)
    gz = gzip.compress(b'{"stat": "fail", "code": 100, "message": "Invalid API Key"}')
    routes = {
        "/gzip": Response(body=gz, headers={"Content-Encoding": "gzip"}, content_type="application/json"),
        "/noai": Response(body=PNG, headers={"X-Robots-Tag": "noai"}, content_type="image/png"),
        "/ours": Response(body=PNG, headers={"X-Robots-Tag": "visionflow: noimageindex"}),
        "/otherbot": Response(body=PNG, headers={"X-Robots-Tag": "otherbot: noai, noindex"}),
        "/nofollow": Response(body=PNG, headers={"X-Robots-Tag": "nofollow"}),
        "/busy": Response(503, b"busy", headers={"Retry-After": "30"}),
    }
    source.mount("/r", lambda req: routes.get(req.path, Response(404)))
    source.start(catalogs=[])
    yield source.base_url + "/r"
    source.stop()


def test_a_dripping_server_ends_timeout_within_the_total_deadline(drip_server, tmp_path):
    """Every read arrives well inside read_timeout, so only the total deadline can stop it; the shard
    still completes with one row per item, and an opted-out image is counted, not stored."""
    from include.visionflow.datasets import openimages as oi

    storage = LocalStorage(tmp_path)
    md5 = hashlib.md5(PNG).hexdigest()
    rows = [{"ImageID": "drip0001", "OriginalURL": f"{drip_server}/drip", "OriginalMD5": md5, "split": "train"},
            {"ImageID": "good0001", "OriginalURL": f"{drip_server}/png", "OriginalMD5": md5, "split": "train"},
            {"ImageID": "noai0001", "OriginalURL": f"{drip_server}/png-noai", "OriginalMD5": md5, "split": "train"}]
    [spec] = write_shards(storage, "_work/t", rows, 10, oi.SHARD_COLUMNS + ["split"], label="train")
    fetcher = Fetcher(FetchConfig(read_timeout=30, retries=3, total_timeout=2.0))
    stats = oi.download_shard(storage, spec, oi.DownloadConfig(threads=2), fetcher)
    by_key = {r.key: r for r in read_manifest(storage, spec.manifest_rel)}
    assert by_key["drip0001"].reason == "timeout"
    assert by_key["good0001"].status.value == "ok"
    assert (by_key["noai0001"].status.value, by_key["noai0001"].reason) == ("refused", "opted_out")
    assert not storage.exists(oi.image_rel("train", "noai0001"))
    assert sum(stats.counts.values()) == 3


def test_deadline_covers_retries_of_the_body(drip_server):
    fetcher = Fetcher(FetchConfig(read_timeout=30, retries=5, total_timeout=1.0))
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(f"{drip_server}/drip")
    assert err.value.reason == "timeout" and "total deadline" in err.value.detail


def test_deadline_stops_waiting_out_retry_after(source):
    """Three 30 s Retry-After waits would take 90 s; the deadline gives up before sleeping past it."""
    fetcher = Fetcher(FetchConfig(retries=3, max_backoff=30, total_timeout=2.0))
    with pytest.raises(FetchError) as err:
        fetcher.fetch_bytes(f"{source}/busy")
    assert err.value.reason == "timeout"


def test_image_fetcher_reads_dag_params():
    from include.visionflow.errors import BadInputError
    from include.visionflow.fetch.http import image_fetcher

    fetcher = image_fetcher("45", "noai, noimageai")
    assert fetcher.config.total_timeout == 45.0 and fetcher.config.opt_out == ("noai", "noimageai")
    assert image_fetcher(120, []).config.opt_out == ()
    with pytest.raises(BadInputError, match="fetch_deadline_s"):
        image_fetcher("soon")


def test_connections_dial_the_address_the_guard_checked(drip_server):
    """``rebind.test`` does not exist in DNS: the fetch can only succeed by connecting to the address the
    guard's lookup holds, and the Host header still names the host."""
    port = drip_server.rsplit(":", 1)[1]
    guard._cache._entries["rebind.test"] = (time.monotonic() + 60, ("127.0.0.1",))  # the answer the check saw
    body = Fetcher(FetchConfig(retries=0)).fetch_bytes(f"http://rebind.test:{port}/host")
    assert body == f"rebind.test:{port}".encode()


def test_guard_fails_closed_when_the_lookup_fails(monkeypatch):
    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    with pytest.raises(FetchError) as err:
        guard.check_url("http://no-such-host.invalid/a.jpg")
    assert err.value.reason == "dns_error"


def test_guard_cache_expires(monkeypatch):
    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    guard._cache._entries["localhost"] = (time.monotonic() - 1, ("8.8.8.8",))  # an expired public answer
    with pytest.raises(RefusedURL):
        guard.check_url("http://localhost/x")


@pytest.mark.parametrize("host", [
    "2002:7f00:1::1",                          # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",                       # 6to4 of 169.254.169.254 (cloud metadata)
    "2002:c0a8:101::1",                        # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",    # Teredo whose client is 127.0.0.1
    "64:ff9b::7f00:1",                         # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",                      # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",                        # local-use NAT64 of 10.0.0.1
    "::ffff:127.0.0.1",
])
def test_tunnelled_forms_of_private_addresses_are_refused(host, monkeypatch):
    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    with pytest.raises(RefusedURL):
        guard.check_url(f"http://[{host}]/x")


def test_tunnelled_public_addresses_pass(monkeypatch):
    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    assert guard.public_addresses("2002:808:808::1") == ["2002:808:808::1"]  # 6to4 of 8.8.8.8


def test_gzip_body_is_not_reported_truncated(source):
    """Content-Length counts compressed bytes; the decoded API error must come through to be reported."""
    body = Fetcher(FetchConfig(retries=0)).fetch_bytes(f"{source}/gzip")
    assert b"Invalid API Key" in body


@pytest.mark.parametrize("path", ["noai", "ours"])
def test_opted_out_responses_are_refused(source, path):
    with pytest.raises(OptedOut) as err:
        Fetcher(FetchConfig(retries=0)).fetch_bytes(f"{source}/{path}")
    assert err.value.reason == "opted_out"
    assert isinstance(err.value, RefusedURL)  # counted with status refused


@pytest.mark.parametrize("path", ["otherbot", "nofollow"])
def test_directives_for_others_or_unrelated_are_ignored(source, path):
    assert Fetcher(FetchConfig(retries=0)).fetch_bytes(f"{source}/{path}") == PNG


def test_opt_out_list_can_be_changed(source):
    assert Fetcher(FetchConfig(retries=0, opt_out=())).fetch_bytes(f"{source}/noai") == PNG
    with pytest.raises(OptedOut):
        Fetcher(FetchConfig(retries=0, opt_out=("nofollow",))).fetch_bytes(f"{source}/nofollow")


def test_robots_header_parsing():
    wanted = ("noai", "noimageai", "noindex", "noimageindex")
    assert robots_opt_out(["NoAI, noimageai"], wanted) == "noai"
    assert robots_opt_out(["none"], wanted) == "noindex"
    assert robots_opt_out(["googlebot: noindex", "nofollow"], wanted) is None
    assert robots_opt_out(["googlebot: noindex", "noimageai"], wanted) == "noimageai"
    assert robots_opt_out(["unavailable_after: 25 Jun 2010 15:00:00 PST"], wanted) is None
    assert robots_opt_out(["noai"], ()) is None


def test_user_agent_names_the_deployment_contact(monkeypatch):
    from include.visionflow import settings

    monkeypatch.setenv("VISIONFLOW_CONTACT_URL", "https://data.example.org/crawler")
    assert "+https://data.example.org/crawler" in settings.user_agent()
    assert settings.user_agent().startswith("visionflow/")
