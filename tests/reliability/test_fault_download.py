"""5,000 OpenImages rows, 30 % of them pointing at misbehaving URLs, through the real download shard runner.

The metadata comes from the sample source's fault catalogue (``include/sample_source/faults.py``), goes
through the same steps as the ``openimages`` DAG (fetch metadata, plan shards, download each shard with
threads, summarize), and the server's hit counter says how often each URL was requested. A second run, as a
new DAG run over the same output root, must finish every recoverable item and fetch nothing already done.
"""
from __future__ import annotations

import io
import time
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from include.sample_source import faults
from include.visionflow.datasets import openimages as oi
from include.visionflow.fetch.http import MAX_REDIRECTS, FetchConfig, Fetcher
from include.visionflow.manifest import read_manifest
from include.visionflow.storage import open_storage
from tests.reliability.known_defects import LEFT_OUT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

N, PERCENT, SEED = 5000, 30, 20261128
THREADS = 16
# Short timeouts, backoff and total deadline (the drips end only by it) keep the run to a few minutes, yet
# leave room for a busy 2-core box (a timeout that fires on a healthy response would be the test's fault).
CONFIG = FetchConfig(connect_timeout=3.0, read_timeout=2.0, retries=2, backoff=0.02, max_backoff=0.2,
                     max_bytes=1 << 20, total_timeout=8.0)
# Requests one URL may cost in one run: the first try and its retries; a redirect loop one per hop.
MAX_REQUESTS = CONFIG.retries + 1
MAX_REQUESTS_LOOP = MAX_REDIRECTS + 1


def _over_budget(hits: dict[str, int], by_id: dict) -> dict[str, tuple[str, int]]:
    return {k: (by_id[k].kind, n) for k, n in hits.items()
            if n > (MAX_REQUESTS_LOOP if by_id[k].kind == "redirect_loop" else MAX_REQUESTS)}


def _hits(source, items) -> dict[str, int]:
    hits = source.hits()
    return {i.image_id: hits.get(i.path, 0) for i in items}


def _run(storage, source, items, name: str) -> tuple[dict, dict[str, int], float]:
    before = _hits(source, items)
    started = time.monotonic()
    meta = faults.metadata_url(source.base_url, N, PERCENT, SEED, tuple(LEFT_OUT))
    oi.fetch_metadata(storage, meta, oi.METADATA_REL, Fetcher())  # as the metadata task does
    oi.fetch_metadata(storage, source.urls["faults_boxable_url"], oi.BOXABLE_REL, Fetcher())
    fetcher = Fetcher(CONFIG)
    specs = oi.plan_shards(storage, f"_work/{name}", ["train"], N, min_shard=1000)
    for spec in specs:
        oi.download_shard(storage, spec, oi.DownloadConfig(threads=THREADS), fetcher)
    oi.summarize(storage, specs)
    seconds = time.monotonic() - started
    after = _hits(source, items)
    rows = [r for spec in specs for r in read_manifest(storage, spec.manifest_rel)]
    keys = Counter(r.key for r in rows)
    assert len(rows) == N and set(keys) == {i.image_id for i in items} and max(keys.values()) == 1, \
        "every item must end with exactly one status row"
    return {r.key: r for r in rows}, {k: after[k] - before[k] for k in after}, seconds


def _matches(stored: bytes, item) -> bool:
    """The stored JPEG decodes, has the expected size, and shows the expected picture."""
    out = Image.open(io.BytesIO(stored))
    out.load()
    ref = faults.reference(item.kind, item.url.rsplit("/", 1)[1])
    if item.kind == "mode_wide":  # 4000x3 shrinks to 1024x1: compare the thumbnail's colours only
        if max(out.size) > 1024:
            return False
    elif out.size != ref.size or out.mode != "RGB":
        return False
    size = (min(16, out.width), min(12, out.height))
    a = np.asarray(out.resize(size, Image.Resampling.BOX), dtype=np.float32)
    b = np.asarray(ref.convert("RGB").resize(size, Image.Resampling.BOX), dtype=np.float32)
    return float(np.abs(a - b).mean()) < 12.0


def _visible_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts]


def test_5000_urls_with_30_percent_faults(fault_server, tmp_path, figures):
    items = faults.plan(fault_server.base_url, N, PERCENT, SEED, tuple(LEFT_OUT), private_allowed=True)
    by_id = {i.image_id: i for i in items}
    storage = open_storage(str(tmp_path))

    first, hits1, seconds1 = _run(storage, fault_server, items, "run1")
    wrong = {}
    for key, row in first.items():
        item = by_id[key]
        allowed = {item.expect} | ({"failed_download"} if item.transient else set())
        if row.status.value not in allowed:
            wrong[key] = (item.kind, item.n, row.status.value, row.reason)
    assert not wrong, f"{len(wrong)} items ended wrongly in run 1: {Counter(wrong.values()).most_common(12)}"

    ok_files = {r.output for r in first.values() if r.status.value == "ok"}
    on_disk = {str(p.relative_to(tmp_path)) for p in (tmp_path / "train" / "images").rglob("*") if p.is_file()}
    assert on_disk == ok_files, "exactly the ok items have a file"
    mismatched = [by_id[r.key].kind for r in first.values()
                  if r.status.value == "ok" and not _matches((tmp_path / r.output).read_bytes(), by_id[r.key])]
    assert not mismatched, f"stored pictures that do not match their source: {Counter(mismatched)}"
    partial = [p for p in _visible_files(tmp_path) if p.name.endswith(".part") or p.name.startswith(".")]
    assert not partial, f"temp files visible to readers: {partial[:5]}"
    over = _over_budget(hits1, by_id)
    assert not over, f"URLs requested more often than retries allow: {Counter(over.values()).most_common(8)}"

    second, hits2, seconds2 = _run(storage, fault_server, items, "run2")
    refetched = [k for k, r in first.items() if r.status.value == "ok" and hits2[k]]
    assert not refetched, f"{len(refetched)} items done in run 1 were fetched again"
    not_converged = {k: (by_id[k].kind, by_id[k].n, r.status.value, r.reason) for k, r in second.items()
                     if r.status.value != by_id[k].expect}
    assert not not_converged, f"run 2 did not converge: {Counter(not_converged.values()).most_common(12)}"
    assert all(r.reused for k, r in second.items() if first[k].status.value == "ok")
    newly_ok = [r for k, r in second.items() if r.status.value == "ok" and not r.reused]
    assert all(_matches((tmp_path / r.output).read_bytes(), by_id[r.key]) for r in newly_ok)
    assert not _over_budget(hits2, by_id)

    _record(figures, items, first, second, hits1, hits2, seconds1, seconds2)


def _record(figures, items, first, second, hits1, hits2, seconds1, seconds2) -> None:
    per_kind: dict[str, list] = defaultdict(list)
    for item in items:
        per_kind[item.kind].append(item)
    lines = [
        f"{N} OpenImages metadata rows ({PERCENT} % faulty, seed {SEED}) served by the fault catalogue, "
        f"through `fetch_metadata` -> `plan_shards` -> `download_shard` ({THREADS} threads, "
        f"{-(-N // 1000)} shards) -> `summarize`, then a second run (new work folder, same output root).",
        f"Fetch settings: retries {CONFIG.retries}, read timeout {CONFIG.read_timeout} s, connect timeout "
        f"{CONFIG.connect_timeout} s, total deadline per URL {CONFIG.total_timeout} s, backoff {CONFIG.backoff} s "
        f"(cap {CONFIG.max_backoff} s), max body "
        f"{CONFIG.max_bytes} bytes. Bound asserted on requests per URL per run: {MAX_REQUESTS} (retries + 1), "
        f"{MAX_REQUESTS_LOOP} for a redirect loop (one per hop).",
        "",
        f"- run 1: {seconds1:.1f} s, statuses {dict(Counter(r.status.value for r in first.values()))}",
        f"- run 2: {seconds2:.1f} s, statuses {dict(Counter(r.status.value for r in second.values()))}; "
        f"reused {sum(r.reused for r in second.values())}, items done in run 1 fetched again: 0",
        f"- faulty items: {sum(i.fault for i in items)}; recoverable (transient) among them: "
        f"{sum(i.transient for i in items)}",
        f"- requests per URL, max: run 1 {max(hits1.values())}, run 2 {max(hits2.values())}",
        "- every ok file decoded, had the source's size and showed the source's picture (16x12 block means "
        "within 12 levels); only ok items have a file; no temp file visible",
        "",
        "| kind | items | transient | expected | run 1 statuses (reasons) | run 2 statuses | max requests run 1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, its in sorted(per_kind.items(), key=lambda kv: -len(kv[1])):
        transient = sum(i.transient for i in its)
        s1 = Counter(first[i.image_id].status.value for i in its)
        r1 = Counter(first[i.image_id].reason for i in its if first[i.image_id].reason)
        s2 = Counter(second[i.image_id].status.value for i in its)
        lines.append(f"| {kind} | {len(its)} | {transient} | {faults.KINDS[kind].expect} | "
                     f"{dict(s1)} {dict(r1) if r1 else ''} | {dict(s2)} | {max(hits1[i.image_id] for i in its)} |")
    figures.add("5,000 URLs with 30 % faults (OpenImages download)", lines)
