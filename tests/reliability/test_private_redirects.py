"""Redirects to private addresses, with the address guard on.

The sample source itself listens on 127.0.0.1, so the download runs allow private networks and can only show
that such a redirect yields no file. Here the guard is on (as in production) and judges every target the
fault catalogue redirects to; the fetcher calls the same ``check_url`` on every hop it follows.
"""
from __future__ import annotations

import pytest
import requests

from include.sample_source import faults
from include.visionflow.errors import RefusedURL
from include.visionflow.fetch.guard import check_url


def test_every_private_redirect_target_is_refused_by_the_guard(fault_server, monkeypatch, figures):
    targets = set()
    for i in range(60):
        item = faults.make_item(fault_server.base_url, "redirect_private", None, faults.image_id(99, i))
        resp = requests.get(item.url, allow_redirects=False, timeout=60)
        assert resp.status_code == 302
        targets.add(resp.headers["Location"])
    assert targets == set(faults.PRIVATE_TARGETS)

    monkeypatch.delenv("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", raising=False)
    for target in sorted(targets):
        with pytest.raises(RefusedURL):
            check_url(target)
    figures.add("Redirects to private addresses", [
        f"With the guard on, all {len(targets)} redirect targets the catalogue serves were refused: "
        + ", ".join(f"`{t}`" for t in sorted(targets)) + ". (The download runs allow private networks, "
        "since the sample source is on 127.0.0.1; there these redirects end `failed_download`, never a file.)",
    ])
