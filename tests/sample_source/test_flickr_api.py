"""The Flickr API emulator behaves like the real API where crawlers break."""
from __future__ import annotations

import io

import pytest
import requests

from include.sample_source import flickr_api as fa

DENSE_START = fa._epoch(fa.DENSE_DAY)
DENSE_END = DENSE_START + 86399


def call(source, key=fa.API_KEY, **params):
    query = {"method": "flickr.photos.search", "api_key": key, "format": "json", "nojsoncallback": 1, **params}
    return requests.get(source.urls["flickr_endpoint"], params=query, timeout=30)


def search(source, **params):
    resp = call(source, **params)
    assert resp.status_code == 200
    data = resp.json()
    assert data["stat"] == "ok"
    return data["photos"]


@pytest.fixture(scope="module")
def catalogue(sample_source):
    return fa.build_catalogue(sample_source.base_url)


def test_pages_are_one_based_and_page_zero_is_page_one(sample_source):
    day = dict(min_upload_date=fa._epoch("2021-06-04"), max_upload_date=fa._epoch("2021-06-04") + 86399,
               per_page=100, sort="date-posted-asc")
    p0, p1, p2 = (search(sample_source, page=p, **day) for p in (0, 1, 2))
    assert p1["page"] == 1 and [x["id"] for x in p0["photo"]] == [x["id"] for x in p1["photo"]]
    assert not {x["id"] for x in p1["photo"]} & {x["id"] for x in p2["photo"]}


def test_per_page_is_capped_at_500_and_defaults_to_100(sample_source):
    window = dict(min_upload_date=DENSE_START, max_upload_date=DENSE_END)
    assert len(search(sample_source, per_page=1000, **window)["photo"]) == 500
    assert len(search(sample_source, **window)["photo"]) == 100


def test_at_most_4000_results_are_reachable_and_later_pages_repeat(sample_source, catalogue):
    window = dict(min_upload_date=DENSE_START, max_upload_date=DENSE_END, per_page=500, sort="date-posted-asc")
    seen: list[str] = []
    for page in range(1, 9):
        seen += [x["id"] for x in search(sample_source, page=page, **window)["photo"]]
    assert len(seen) == len(set(seen)) == 4000
    ninth = [x["id"] for x in search(sample_source, page=9, **window)["photo"]]
    assert len(ninth) == 500 and set(ninth) <= set(seen)


def test_reported_total_is_lower_than_the_truth_for_big_result_sets(sample_source, catalogue):
    truth = sum(1 for p in catalogue.photos if DENSE_START <= int(p["dateupload"]) <= DENSE_END)
    photos = search(sample_source, min_upload_date=DENSE_START, max_upload_date=DENSE_END, per_page=1)
    assert isinstance(photos["total"], str) and int(photos["total"]) < truth
    small = search(sample_source, min_upload_date=fa._epoch("2021-06-01"),
                   max_upload_date=fa._epoch("2021-06-01") + 86399, per_page=1)
    assert int(small["total"]) == len(fa.day_times("2021-06-01"))


def test_upload_bounds_are_inclusive_and_sort_orders_by_upload_time(sample_source, catalogue):
    second = fa._epoch(fa.DENSE_DAY, 14, 30, 30)
    photos = search(sample_source, min_upload_date=second, max_upload_date=second, per_page=500)["photo"]
    assert photos and all(int(p["dateupload"]) == second for p in photos)
    asc = search(sample_source, min_upload_date=DENSE_START, max_upload_date=DENSE_END, per_page=50,
                 sort="date-posted-asc")["photo"]
    desc = search(sample_source, min_upload_date=DENSE_START, max_upload_date=DENSE_END, per_page=50)["photo"]
    assert [int(p["dateupload"]) for p in asc] == sorted(int(p["dateupload"]) for p in asc)
    assert int(desc[0]["dateupload"]) >= int(desc[-1]["dateupload"]) > int(asc[-1]["dateupload"])


def test_license_filter(sample_source):
    photos = search(sample_source, min_upload_date=DENSE_START, max_upload_date=DENSE_END, license="9,10",
                    per_page=500)["photo"]
    assert photos and {p["license"] for p in photos} <= {"9", "10"}


@pytest.mark.parametrize("key", ["", "wrong-key"])
def test_bad_or_missing_key_is_stat_fail(sample_source, key):
    resp = call(sample_source, key=key)
    assert resp.status_code == 200
    assert resp.json() == {"stat": "fail", "code": 100, "message": "Invalid API Key (Key has invalid format)"}


def test_unknown_method_is_stat_fail(sample_source):
    assert call(sample_source, method="flickr.nope").json()["code"] == 112


def test_rate_limit_answers_429_with_retry_after(sample_source):
    codes = [call(sample_source, key=fa.LIMITED_KEY, per_page=1).status_code for _ in range(fa.LIMITED_BUDGET)]
    assert codes == [200] * fa.LIMITED_BUDGET
    over = call(sample_source, key=fa.LIMITED_KEY, per_page=1)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0


def test_photo_urls_serve_real_jpegs_of_the_announced_size(sample_source):
    from PIL import Image

    photo = search(sample_source, min_upload_date=DENSE_START, max_upload_date=DENSE_END, per_page=20)["photo"]
    photo = next(p for p in photo if "url_l" in p)
    for size in ("m", "l", "s", "t"):
        resp = requests.get(photo[f"url_{size}"], timeout=30)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
        im = Image.open(io.BytesIO(resp.content))
        assert im.format == "JPEG" and im.size == (photo[f"width_{size}"], photo[f"height_{size}"])
    assert photo["url_m"].startswith(sample_source.base_url)
    missing = photo["url_m"].replace(photo["id"], "123")
    assert requests.get(missing, timeout=30).status_code == 404


def test_catalogue_is_deterministic_and_has_the_special_days(catalogue):
    again = fa.build_catalogue("http://elsewhere:1")
    assert [p["id"] for p in again.photos] == [p["id"] for p in catalogue.photos]
    assert len({p["id"] for p in catalogue.photos}) == len(catalogue.photos)
    hour = fa._epoch(fa.DENSE_DAY, 14)
    minute = fa._epoch(fa.DENSE_DAY, 14, 30)
    assert sum(hour <= t < hour + 3600 for t in catalogue.times) > 8000
    assert sum(minute <= t < minute + 60 for t in catalogue.times) > 4000
    assert catalogue.times.count(fa._epoch(fa.BURST_DAY, 9)) > fa.CAP
    assert not fa.expected_ids(catalogue, fa.EMPTY_DAY, (1, 2, 3, 4, 5, 6, 9, 10))


def test_mount_returns_what_the_demo_needs(sample_source):
    import json

    conn = json.loads(sample_source.urls["flickr_conn_json"])
    assert conn["password"] == fa.API_KEY and conn["host"] == "127.0.0.1"
    assert sample_source.urls["flickr_dense_day"] == fa.DENSE_DAY
