"""One Flickr key, one budget, however many crawl tasks run: two days crawled at the same time by clients
that share nothing but a Redis server (a cluster) or a lock file (one machine) stay under the emulator's
metered rate (no 429 at all), and the requests of both together keep to the key's requests per hour."""
from __future__ import annotations

import threading

import pytest

from include.sample_source import flickr_api as fa
from include.visionflow.datasets.flickr import crawl_day
from include.visionflow.fetch.limit import FileRateLimiter, SharedRateLimiter, budget_name
from include.visionflow.sources.flickr_api import FlickrClient, FlickrConfig
from include.visionflow.storage import open_storage

DAYS = (fa.DENSE_DAY, "2021-06-05")


def crawl_concurrently(sample_source, make_limiter, root) -> dict[str, int]:
    config = FlickrConfig(api_key=fa.METERED_KEY, endpoint=sample_source.urls["flickr_endpoint"],
                          requests_per_hour=fa.METERED_PER_HOUR)
    results, errors = {}, []

    def crawl(day: str) -> None:
        # Its own client, limiter and Redis connection: what a second worker process would have.
        limiter = make_limiter(budget_name(config.api_key), config.requests_per_hour)
        try:
            results[day] = crawl_day(FlickrClient(config, limiter=limiter), open_storage(str(root)), day).rows
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=crawl, args=(day,)) for day in DAYS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@pytest.mark.parametrize("shared_through", ["redis", "lock file"])
def test_two_crawls_share_one_budget(sample_source, redis_url, tmp_path, shared_through):
    def make_limiter(name: str, per_hour: float):
        if shared_through == "redis":
            return SharedRateLimiter(redis_url, name, per_hour)
        return FileRateLimiter(tmp_path / "budgets" / name, per_hour)

    refused_before, seen_before = fa.STATE.metered_refused, len(fa.STATE.metered_times)
    rows = crawl_concurrently(sample_source, make_limiter, tmp_path / "out")
    assert all(n > 0 for n in rows.values()), rows

    assert fa.STATE.metered_refused == refused_before, "the emulator refused requests: budget exceeded"
    arrivals = fa.STATE.metered_times[seen_before:]
    assert len(arrivals) >= 30  # both days took many requests, interleaved
    interval = 3600 / fa.METERED_PER_HOUR
    # The shared limiter spaces requests by one interval in total; arrivals may bunch up a little on the
    # way, within the emulator's burst, but never exceed the budget over the whole crawl.
    assert len(arrivals) - 1 <= (arrivals[-1] - arrivals[0]) / interval + fa.METERED_BURST


def test_limiter_key_names_the_budget_not_the_secret(redis_url):
    limiter = SharedRateLimiter(redis_url, "flickr:" + budget_name(fa.METERED_KEY), 3600)
    assert fa.METERED_KEY not in limiter.key and fa.METERED_KEY not in repr(limiter)
    assert "redis://" not in repr(limiter)
    assert limiter.acquire() == 0.0
