"""Crawling days from the Flickr emulator over HTTP: completeness, no duplicates, request efficiency, errors
(stat fail, 429), commit before raise, and the API key kept out of every message, log and output."""
from __future__ import annotations

import gzip
import json
import logging
import math

import pytest

from include.sample_source import flickr_api as fa
from include.visionflow.datasets.flickr import crawl_day
from include.visionflow.datasets.flickr_layout import DayLayout, crawled_days
from include.visionflow.errors import FetchError
from include.visionflow.fetch.http import FetchConfig, Fetcher
from include.visionflow.sources.base import Dropped, IngestionError
from include.visionflow.sources.flickr import DEFAULT_LICENSE_IDS, FlickrMapper
from include.visionflow.sources.flickr_api import (
    FlickrApiError,
    FlickrClient,
    FlickrConfig,
    OAuthCredentials,
)
from include.visionflow.sources.timeslice import PlanConfig
from include.visionflow.storage import open_storage


@pytest.fixture(scope="module")
def catalogue(sample_source):
    return fa.build_catalogue(sample_source.base_url)


def client_for(sample_source, key=fa.API_KEY, retries=3, oauth=None) -> FlickrClient:
    config = FlickrConfig(api_key=key, endpoint=sample_source.urls["flickr_endpoint"], requests_per_hour=1e7,
                          oauth=oauth)
    fetcher = Fetcher(FetchConfig(retries=retries, backoff=0.01))
    return FlickrClient(config, fetcher=fetcher)


def expected_rows(catalogue, day) -> set[str]:
    """Ids a complete crawl must write: every CC photo of the day that maps to a record."""
    by_id = catalogue.by_id
    mapper = FlickrMapper()
    return {i for i in fa.expected_ids(catalogue, day, DEFAULT_LICENSE_IDS) if not isinstance(mapper(by_id[i]), Dropped)}


def client_log(caplog) -> str:
    """What our side logged (the emulator's own access log plays the remote server and is left out)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("include.sample_source"))


def written_ids(storage, day) -> list[str]:
    with gzip.open(storage.uri(DayLayout(day).tsv), "rt", encoding="utf-8") as fh:
        return [line.split("\t", 1)[0] for line in fh]


ALL_DAYS = [*fa.SMALL_DAYS, fa.EMPTY_DAY, fa.DENSE_DAY, fa.BURST_DAY]


@pytest.mark.parametrize("day", ALL_DAYS)
def test_walk_crawl_is_complete_without_duplicates(sample_source, catalogue, tmp_path, day):
    storage = open_storage(str(tmp_path))
    result = crawl_day(client_for(sample_source), storage, day)
    ids = written_ids(storage, day)
    assert len(ids) == len(set(ids)) == result.rows
    assert set(ids) == expected_rows(catalogue, day)
    assert result.unreachable_slices == []
    assert storage.exists(DayLayout(day).done)


@pytest.mark.parametrize("day", ["2021-06-04", fa.DENSE_DAY, fa.BURST_DAY])
def test_planned_crawl_is_complete_despite_under_reported_totals(sample_source, catalogue, tmp_path, day):
    storage = open_storage(str(tmp_path))
    # A limit far above the cap stands for totals that lie: the dense day (12,542 photos, reported 11,642)
    # becomes one slice that saturates and must recover through the cursor and licence follow-ups.
    result = crawl_day(client_for(sample_source), storage, day, strategy="plan",
                       plan_config=PlanConfig(max_records=12000))
    ids = written_ids(storage, day)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_rows(catalogue, day)
    if day == fa.DENSE_DAY:
        assert result.saturated_rounds >= 1


def test_dense_day_request_efficiency(sample_source, catalogue, tmp_path):
    """Requests / ceil(unique / 500): the walk only re-fetches photos sharing a cut second."""
    storage = open_storage(str(tmp_path))
    before = sample_source.hits[f"{fa.PREFIX}/services/rest"]
    result = crawl_day(client_for(sample_source), storage, fa.DENSE_DAY)
    unique = len(fa.expected_ids(catalogue, fa.DENSE_DAY, DEFAULT_LICENSE_IDS))
    minimum = math.ceil(unique / 500)
    assert sample_source.hits[f"{fa.PREFIX}/services/rest"] - before == result.requests
    assert result.requests / minimum <= 1.1, (result.requests, minimum)
    report = json.loads(storage.read_text(DayLayout(fa.DENSE_DAY).report))
    assert report["requests"] == result.requests and report["duplicates"] > 0  # overlap existed, none written


def test_done_day_is_skipped_unless_reprocessed(sample_source, tmp_path):
    storage = open_storage(str(tmp_path))
    client = client_for(sample_source)
    first = crawl_day(client, storage, "2021-06-01")
    again = crawl_day(client, storage, "2021-06-01")
    assert again.skipped and again.requests == 0 and client.requests == first.requests
    redo = crawl_day(client, storage, "2021-06-01", reprocess=True)
    assert not redo.skipped and redo.rows == first.rows
    assert crawled_days(storage) == ["2021-06-01"]


def test_stat_fail_is_an_error_and_the_key_never_shows(sample_source, tmp_path, caplog):
    storage = open_storage(str(tmp_path))
    bad_key = "not-a-real-key-1234567890"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IngestionError) as info:
        crawl_day(client_for(sample_source, key=bad_key), storage, "2021-06-01")
    assert isinstance(info.value.__cause__, FlickrApiError)
    assert "Invalid API Key" in str(info.value)
    assert bad_key not in str(info.value) and bad_key not in repr(info.value.__cause__)
    assert bad_key not in client_log(caplog)
    assert not storage.exists(DayLayout("2021-06-01").done)  # an API error is not an empty day
    assert crawled_days(storage) == []


def test_rate_limit_429_commits_partial_rows_before_raising(sample_source, tmp_path, caplog):
    """The limited key allows 3 requests; the 4th page is answered 429. Rows already fetched are kept."""
    storage = open_storage(str(tmp_path))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IngestionError) as info:
        crawl_day(client_for(sample_source, key=fa.LIMITED_KEY_2, retries=0), storage, fa.DENSE_DAY)
    cause = info.value.__cause__
    assert isinstance(cause, FetchError) and cause.reason == "http_429"
    for text in (str(info.value), cause.detail, client_log(caplog)):
        assert fa.LIMITED_KEY_2 not in text
    rows = written_ids(storage, fa.DENSE_DAY)
    assert 1400 < len(rows) <= 1500 and len(set(rows)) == len(rows)  # three pages, minus thumbnail-only photos
    assert not storage.exists(DayLayout(fa.DENSE_DAY).done)


def test_oauth_signed_requests_are_accepted_and_secrets_masked(sample_source, tmp_path, caplog):
    storage = open_storage(str(tmp_path))
    oauth = OAuthCredentials(api_secret="s3cr3t-consumer", oauth_token="tok-123456", oauth_token_secret="tsec-987")
    caplog.set_level(logging.DEBUG)
    signed_before = fa.STATE.signed
    result = crawl_day(client_for(sample_source, oauth=oauth), storage, "2021-06-02")
    assert result.rows > 0 and fa.STATE.signed - signed_before == result.requests
    for secret in (fa.API_KEY, "s3cr3t-consumer", "tok-123456", "tsec-987"):
        assert secret not in client_log(caplog)
    assert fa.API_KEY not in storage.read_text(DayLayout("2021-06-02").report)
    assert "s3cr3t" not in repr(FlickrConfig(api_key="k", oauth=oauth))


def test_licences_added_by_the_connection_are_crawled_too(sample_source, catalogue, tmp_path):
    from include.visionflow.sources.flickr import license_table

    config = FlickrConfig(api_key=fa.API_KEY, endpoint=sample_source.urls["flickr_endpoint"],
                          requests_per_hour=1e7, licenses=license_table({"11": ["by", "4.0"]}))
    storage = open_storage(str(tmp_path))
    crawl_day(FlickrClient(config), storage, "2021-06-05")
    with gzip.open(storage.uri(DayLayout("2021-06-05").tsv), "rt", encoding="utf-8") as fh:
        versions = {line.split("\t")[7] for line in fh}
    assert versions == {"1.0", "2.0", "4.0"}
    by_id = catalogue.by_id
    with_4 = {i for i in fa.expected_ids(catalogue, "2021-06-05", (*DEFAULT_LICENSE_IDS, 11))
              if not isinstance(FlickrMapper(licenses=config.licenses)(by_id[i]), Dropped)}
    assert set(written_ids(storage, "2021-06-05")) == with_4


def test_crawl_subsets_and_memmap_on_s3(sample_source, tmp_path):
    """An s3:// output root works end to end (the sample source's moto S3)."""
    from include.visionflow.datasets.flickr import convert_to_mmap
    from include.visionflow.datasets.flickr_subsets import build_subsets
    from include.visionflow.storage import S3Options

    sample_source.s3.ensure_bucket("vf-flickr")
    options = S3Options(endpoint_url=sample_source.s3.endpoint_url, access_key="testing", secret_key="testing")
    storage = open_storage("s3://vf-flickr/cc", options)
    result = crawl_day(client_for(sample_source), storage, "2021-06-01")
    assert result.tsv_uri == "s3://vf-flickr/cc/meta/2021-06-01/flickr_images_2021-06-01.tsv.gz"
    assert crawled_days(storage) == ["2021-06-01"]
    built = build_subsets(storage, seed=0, sizes_m=(0.00005,))
    assert [f.name for f in built.lists] == ["flickr.tsv.gz", "flickr-50.tsv.gz"]
    out = convert_to_mmap(storage, "flickr-50.tsv.gz")
    assert out["count"] == 50 and storage.size(out["rel"]) == 50 * 120


def test_planning_failure_leaves_no_partial_day(sample_source, tmp_path):
    storage = open_storage(str(tmp_path))
    with pytest.raises(FlickrApiError):
        crawl_day(client_for(sample_source, key="bad-key-xyz"), storage, "2021-06-01", strategy="plan")
    assert not storage.exists(DayLayout("2021-06-01").tsv) and not storage.exists(DayLayout("2021-06-01").done)
    assert not list((tmp_path / ".tmp").rglob("*.part"))
