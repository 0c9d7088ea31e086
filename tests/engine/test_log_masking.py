"""Issue 12 fix 6: secrets never reach a log line, at DEBUG, whichever library logger writes them."""
from __future__ import annotations

import logging
import re

import pytest

from include.sample_source.server import Response, SampleSource
from include.visionflow import logmask
from include.visionflow.errors import FetchError
from include.visionflow.fetch.http import FetchConfig, Fetcher

KEY = "c0ffee5ecretkey9"
SIGNED_HEADER = re.compile(r'oauth_signature="(?!\*\*\*)')


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    source = SampleSource(tmp_path_factory.mktemp("mask"), s3_port=None)
    source.mount("/m", lambda req: Response(503, b"busy", headers={"Retry-After": "0"})
                 if req.path == "/busy" else Response(body=b"{}"))
    source.start(catalogs=[])
    yield source.base_url + "/m"
    source.stop()


def test_urllib3_retry_lines_do_not_show_the_key(source, caplog):
    fetcher = Fetcher(FetchConfig(retries=2, backoff=0.01))
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(FetchError):
            fetcher.fetch_bytes(f"{source}/busy", params={"api_key": KEY, "q": "x"})
    text = caplog.text
    assert "Incremented Retry" in text and "api_key=***" in text  # the lines are there, masked
    assert KEY not in text


def test_oauth_debug_headers_do_not_show_the_signature(source, caplog):
    from requests_oauthlib import OAuth1

    auth = OAuth1(KEY, client_secret="consumersecret77", resource_owner_key="ownertoken55",
                  resource_owner_secret="ownersecret33")
    with caplog.at_level(logging.DEBUG):
        Fetcher(FetchConfig(retries=0)).fetch_bytes(f"{source}/rest", params={"method": "x"}, auth=auth)
    text = caplog.text
    assert "oauth_signature" in text
    assert not SIGNED_HEADER.search(text)
    assert "ownertoken55" not in text and KEY not in text


def test_any_logger_and_tracebacks_are_masked(caplog):
    logmask.install()
    logmask.register_secrets("hunter2hunter2")
    log = logging.getLogger("a.library.nobody.listed")
    with caplog.at_level(logging.DEBUG):
        log.debug("GET https://api.example/x?api_key=%s&page=2", KEY)
        log.debug("headers %s", {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/1, Signature=abcdef0123"})
        try:
            raise RuntimeError("password hunter2hunter2 rejected")
        except RuntimeError:
            log.exception("login failed")
    text = caplog.text
    assert KEY not in text and "abcdef0123" not in text and "hunter2hunter2" not in text
    assert "page=2" in text and "login failed" in text
