"""Issue 24: progress never goes quiet. A shard whose URL drips a byte at a time (the fault server's ``drip``)
logged nothing until the item ended; the timer's lines now name the item in flight and its host meanwhile."""
from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import pytest

from include.sample_source import faults
from include.visionflow.datasets import openimages as oi
from include.visionflow.fetch.http import FetchConfig, Fetcher
from include.visionflow.shards import process_shard
from include.visionflow.storage import open_storage

pytestmark = [pytest.mark.timeout(120)]
DEADLINE = 3.0  # seconds the dripping image holds its thread before it ends as a timeout


class Lines(logging.Handler):
    """Progress lines as they are written (``mu``: Handler.lock is the handler's own, held around emit)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.mu = threading.Lock()

    def emit(self, record):
        with self.mu:
            self.lines.append(record.getMessage())

    def snapshot(self) -> list[str]:
        with self.mu:
            return list(self.lines)


@pytest.fixture
def progress_lines():
    handler, logger = Lines(), logging.getLogger("visionflow.progress")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_dripping_url_is_named_with_its_host_while_it_runs(fault_server, tmp_path, progress_lines):
    drip = faults.make_item(fault_server.base_url, "drip", None, faults.image_id(24, 0))
    fine = faults.make_item(fault_server.base_url, "ok", None, faults.image_id(24, 1))
    storage = open_storage(str(tmp_path))
    storage.write_text(oi.METADATA_REL, faults.metadata_csv([drip, fine]))
    storage.write_text(oi.BOXABLE_REL, ",".join(faults.OPENIMAGES_COLUMNS) + "\n")
    (spec,) = oi.plan_shards(storage, "_work/run", ["train"], 2)
    fetcher = Fetcher(FetchConfig(connect_timeout=3.0, read_timeout=2.0, retries=0, total_timeout=DEADLINE))
    seen_while_running: dict[str, list[str]] = {}

    def item(row):
        try:
            return oi.download_item(row, storage, fetcher, oi.DownloadConfig(threads=2))
        finally:  # what the log held the moment this item ended
            seen_while_running[row["ImageID"]] = progress_lines.snapshot()

    stats = process_shard(storage, spec, item, key="ImageID", threads=2, progress_every=0.5, slow_after=0.5,
                          url_key="OriginalURL", log_name="drip")
    assert stats.counts == {"ok": 1, "failed_download": 1} and stats.reasons == {"timeout": 1}
    host = urlsplit(drip.url).netloc  # 127.0.0.1:<port>
    named = [line for line in seen_while_running[drip.image_id]
             if "in flight over" in line and f"{drip.image_id} ({host}, " in line]
    assert named, seen_while_running[drip.image_id]
    assert named[0].startswith("shard 0 (drip/train): 1/2 items (50%)")  # the healthy item was done already
    assert all(fine.image_id not in line.split("in flight")[-1] for line in named)
    final = progress_lines.snapshot()[-1]
    assert final.startswith("shard 0 (drip/train): 2/2 items (100%)") and final.endswith("failed 1 (timeout 1)")
