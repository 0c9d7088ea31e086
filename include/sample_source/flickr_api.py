"""A Flickr REST API emulator, faithful where crawlers break: ``flickr.photos.search`` over a generated,
deterministic catalogue.

Faithful behaviour: 1-based pages (page 0 acts as page 1), ``per_page`` at most 500 (default 100), at most
4,000 reachable results per query (pages past them repeat earlier photos), ``photos.total`` lower than the
truth for big result sets, ``stat: fail`` (HTTP 200) for a missing or unknown key, HTTP 429 with
``Retry-After`` when a key exceeds its request budget, ``sort`` (default ``date-posted-desc``), inclusive
``min_upload_date`` / ``max_upload_date`` in epoch seconds, ``license`` filters, and OAuth 1.0a-signed
requests accepted (``oauth_consumer_key`` must be the key). Photo URLs point back at this server's
``/flickr/photos/`` route, which serves real JPEGs made from scikit-image's photographs at Flickr's sizes
(``_t`` 100, ``_m`` 240, none 500, ``_b`` 1024 px on the long side). ``/flickr/images/photo_unavailable.png``
answers HTTP 200 with a stand-in for Flickr's "This photo is no longer available" picture (``placeholder.py``).

Catalogue (UTC): small days 2021-06-01..05, an empty day 2021-06-06, the dense day 2021-06-15 (thousands of
uploads inside hour 14 and inside minute 14:30, hundreds inside one second), and the burst day 2021-06-16
(5,200 uploads in one second, more than one query can reach; only a licence split gets them all).
"""
from __future__ import annotations

import bisect
import hashlib
import io
import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path

from include.sample_source.server import Request, Response, SampleSource

NAME = "flickr_api"
PREFIX = "/flickr"
API_KEY = "vf-sample-flickr-key-4b1d9e"
LIMITED_KEY = "vf-sample-flickr-limited-key"
LIMITED_KEY_2 = "vf-sample-flickr-limited-key-2"  # a second one, so two tests never share a budget
LIMITED_BUDGET = 3  # requests per hour for the limited keys, so tests see a 429 at once
# A key metered like a real one but at a rate a test can reach in seconds: 3 requests/s (10,800 per hour)
# with a burst of 2; faster callers get 429 + Retry-After. Two crawls with per-process limiters at the full
# budget each send twice that.
METERED_KEY = "vf-sample-flickr-metered-key"
METERED_PER_HOUR = 10_800
METERED_BURST = 2
CAP = 4000
MAX_PER_PAGE = 500
SMALL_DAYS = {"2021-06-01": 120, "2021-06-02": 480, "2021-06-03": 500, "2021-06-04": 1337, "2021-06-05": 3999}
EMPTY_DAY = "2021-06-06"
DENSE_DAY = "2021-06-15"
BURST_DAY = "2021-06-16"
# Licence mix: mostly the crawled CC ids, some all-rights-reserved (0, 7) and CC 4.0 (11) that a default
# crawl must not return.
LICENSE_WEIGHTS = {1: 14, 2: 14, 3: 10, 4: 20, 5: 12, 6: 8, 9: 6, 10: 6, 0: 6, 7: 2, 11: 2}
OWNERS = [("71925535@N03", "Marine Explorer"), ("35067687@N04", "NASA HQ PHOTO"), ("12037949754@N01", "Ana"),
          ("8374837@N05", "Bo Chen"), ("45012345@N07", "Sam \"Tabs\"\tLee"), ("99999999@N00", "Ola")]
SIZES = {"_t": ("t", 100), "_m": ("s", 240), "": ("m", 500), "_b": ("l", 1024)}
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "color", "ihc")


def _epoch(day: str, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    d = datetime.strptime(day, "%Y-%m-%d").replace(hour=hh, minute=mm, second=ss, tzinfo=timezone.utc)
    return int(d.timestamp())


def day_times(day: str) -> list[int]:
    """Upload times for one catalogue day (deterministic)."""
    rng = random.Random(f"flickr-times-{day}")
    start = _epoch(day)
    if day in SMALL_DAYS:
        return [start + rng.randrange(86400) for _ in range(SMALL_DAYS[day])]
    if day == DENSE_DAY:
        spread = [start + rng.randrange(86400) for _ in range(3000)]
        hour = [_epoch(day, 14) + rng.randrange(3600) for _ in range(5000)]
        minute = [_epoch(day, 14, 30) + rng.randrange(60) for _ in range(5200)]
        second = [_epoch(day, 14, 30, 30)] * 700
        return spread + hour + minute + second
    if day == BURST_DAY:
        return [start + rng.randrange(86400) for _ in range(300)] + [_epoch(day, 9)] * 5200
    return []


@dataclass
class Catalogue:
    photos: list[dict]  # sorted by (dateupload, id)
    times: list[int]
    dims: dict[str, tuple[int, int]]  # base photo -> (width, height) of the original

    @cached_property
    def by_id(self) -> dict[str, dict]:
        return {p["id"]: p for p in self.photos}


def _scaled(dims: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = dims
    s = long_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def _photo(n: int, t: int, rng: random.Random, base: str, dims: tuple[int, int], base_url: str) -> dict:
    pid = str(51_000_000_000 + n * 7919 % 1_000_003 * 1000 + n % 1000)
    secret = hashlib.md5(pid.encode()).hexdigest()[:10]
    owner, ownername = OWNERS[n % len(OWNERS)]
    lic = rng.choices(list(LICENSE_WEIGHTS), weights=list(LICENSE_WEIGHTS.values()))[0]
    photo = {
        "id": pid, "owner": owner, "secret": secret, "server": "65535", "farm": 66,
        "title": f"Sample photo {n} of {base}", "ispublic": 1, "isfriend": 0, "isfamily": 0,
        "license": str(lic), "dateupload": str(t),
        "datetaken": datetime.fromtimestamp(t - 3600, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "datetakengranularity": "0", "datetakenunknown": "0", "ownername": ownername,
        "description": {"_content": f"Shot <b>{n}</b> near <a href=\"https://example.org/{n}\">the lab</a>"
                        if n % 3 else "   "},
        "views": str(rng.randrange(10_000)),
        "tags": " ".join(rng.sample(["sky", "sea", "cat", "coffee", "space", "nasa", "uploaded:by=flickrmobile",
                                     "squareformat", "street", "night"], k=rng.randrange(0, 5))),
        "content_type": "0" if n % 10 else "1",
        "o_width": str(dims[0]), "o_height": str(dims[1]),
    }
    # One photo in 97 has only a thumbnail: the mapper must drop it.
    sizes = ["_t"] if n % 97 == 0 else ["_t", "_m", "", "_b"] if n % 5 else ["_t", "_m", ""]
    for suffix in sizes:
        key, long_side = SIZES[suffix]
        w, h = _scaled(dims, long_side)
        photo[f"url_{key}"] = f"{base_url}{PREFIX}/photos/65535/{pid}_{secret}{suffix}.jpg"
        photo[f"width_{key}"], photo[f"height_{key}"] = w, h
    return photo


def base_dims() -> dict[str, tuple[int, int]]:
    from PIL import Image

    from include.sample_source.media import color_photos

    photos = color_photos()
    return {name: Image.open(photos[name]).size for name in PHOTOS if name in photos}


def build_catalogue(base_url: str, dims: dict[str, tuple[int, int]] | None = None) -> Catalogue:
    """The whole catalogue; identical for the same ``base_url`` (ids never depend on it)."""
    dims = dims or base_dims()
    names = sorted(dims)
    days = [*SMALL_DAYS, EMPTY_DAY, DENSE_DAY, BURST_DAY]
    photos, n = [], 0
    for day in days:
        rng = random.Random(f"flickr-photos-{day}")
        for t in day_times(day):
            base = names[n % len(names)]
            photos.append(_photo(n, t, rng, base, dims[base], base_url))
            n += 1
    photos.sort(key=lambda p: (int(p["dateupload"]), int(p["id"])))
    return Catalogue(photos, [int(p["dateupload"]) for p in photos], dims)


def expected_ids(catalogue: Catalogue, day: str, licenses: tuple[int, ...]) -> set[str]:
    """The ground truth a complete crawl of ``day`` must return."""
    lo, hi = _epoch(day), _epoch(day) + 86399
    return {p["id"] for p in catalogue.photos if lo <= int(p["dateupload"]) <= hi and int(p["license"]) in licenses}


def reported_total(true_total: int) -> int:
    """Flickr's ``photos.total`` is often far too low for big result sets (openverse-catalog#1031)."""
    return true_total if true_total <= 600 else true_total - min(true_total // 6, 900)


@dataclass
class ApiState:
    """Request counters for tests and benchmarks, and the per-key budgets."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    signed: int = 0
    limited: dict[str, list[float]] = field(default_factory=dict)
    metered_tat: float = 0.0  # GCRA: theoretical arrival time of the metered key's next request
    metered_times: list[float] = field(default_factory=list)  # monotonic arrival of each accepted request
    metered_refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


STATE = ApiState()


def _fail(code: int, message: str) -> Response:
    return _json({"stat": "fail", "code": code, "message": message})


def _json(data: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), headers=headers or {}, content_type="application/json")


def _upload_bound(value: str, default: int) -> int:
    if not value:
        return default
    if value.lstrip("-").isdigit():
        return int(value)
    return int(datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def search(cat: Catalogue, req: Request) -> Response:
    lo = _upload_bound(req.arg("min_upload_date"), -(2**62))
    hi = _upload_bound(req.arg("max_upload_date"), 2**62)
    lics = {int(x) for x in req.arg("license").split(",") if x.strip().isdigit()} or set(LICENSE_WEIGHTS)
    a, b = bisect.bisect_left(cat.times, lo), bisect.bisect_right(cat.times, hi)
    matches = [p for p in cat.photos[a:b] if int(p["license"]) in lics]
    if req.arg("sort", "date-posted-desc") != "date-posted-asc":
        matches.reverse()
    per_page = min(MAX_PER_PAGE, max(1, int(req.arg("per_page", "100") or 100)))
    page = max(1, int(req.arg("page", "1") or 1))
    reachable = matches[:CAP]
    first = (page - 1) * per_page
    if len(matches) > CAP:
        # Beyond the cap the real API serves earlier results again instead of the rest.
        photos = [reachable[r % CAP] for r in range(first, first + per_page)]
    else:
        photos = reachable[first:first + per_page]
    total = reported_total(len(matches))
    return _json({"photos": {"page": page, "pages": math.ceil(total / per_page), "perpage": per_page,
                             "total": str(total), "photo": photos}, "stat": "ok"})


def _rate_limited(key: str) -> Response | None:
    if key not in (LIMITED_KEY, LIMITED_KEY_2):
        return None
    now = time.monotonic()
    with STATE.lock:
        sent = STATE.limited.setdefault(key, [])
        sent[:] = [t for t in sent if now - t < 3600]
        if len(sent) >= LIMITED_BUDGET:
            retry = int(3600 - (now - sent[0])) + 1
            return Response(429, b"Too Many Requests", headers={"Retry-After": str(retry)},
                            content_type="text/plain")
        sent.append(now)
    return None


def _metered(key: str) -> Response | None:
    if key != METERED_KEY:
        return None
    interval = 3600 / METERED_PER_HOUR
    now = time.monotonic()
    with STATE.lock:
        tat = max(STATE.metered_tat, now)
        if tat + interval - now > interval * METERED_BURST:
            STATE.metered_refused += 1
            return Response(429, b"Too Many Requests", headers={"Retry-After": "1"}, content_type="text/plain")
        STATE.metered_tat = tat + interval
        STATE.metered_times.append(now)
    return None


def _key_of(req: Request) -> tuple[str, bool]:
    """The API key, and whether the request carries an OAuth 1.0a signature (header or query)."""
    auth = req.headers.get("Authorization", "") or req.headers.get("authorization", "")
    if auth.startswith("OAuth "):
        fields = dict(part.strip().split("=", 1) for part in auth[6:].split(",") if "=" in part)
        consumer = fields.get("oauth_consumer_key", "").strip('"')
        return (req.arg("api_key") or consumer), bool(fields.get("oauth_signature"))
    return req.arg("api_key") or req.arg("oauth_consumer_key"), bool(req.arg("oauth_signature"))


LICENSE_INFO = [
    {"id": 0, "name": "All Rights Reserved", "url": ""},
    {"id": 1, "name": "Attribution-NonCommercial-ShareAlike License",
     "url": "https://creativecommons.org/licenses/by-nc-sa/2.0/"},
    {"id": 4, "name": "Attribution License", "url": "https://creativecommons.org/licenses/by/2.0/"},
    {"id": 9, "name": "Public Domain Dedication (CC0)", "url": "https://creativecommons.org/publicdomain/zero/1.0/"},
    {"id": 11, "name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
]


def rest(cat: Catalogue, req: Request) -> Response:
    key, signed = _key_of(req)
    method = req.arg("method")
    with STATE.lock:
        STATE.requests += 1
        STATE.by_method[method] = STATE.by_method.get(method, 0) + 1
        STATE.signed += int(signed)
    limited = _rate_limited(key) or _metered(key)
    if limited is not None:
        return limited
    if key not in (API_KEY, LIMITED_KEY, LIMITED_KEY_2, METERED_KEY):
        return _fail(100, "Invalid API Key (Key has invalid format)")
    if method == "flickr.photos.search":
        return search(cat, req)
    if method == "flickr.photos.licenses.getInfo":
        return _json({"licenses": {"license": LICENSE_INFO}, "stat": "ok"})
    if method == "flickr.test.echo":
        return _json({"method": {"_content": method}, "stat": "ok"})
    return _fail(112, f"Method \"{method}\" not found")


@lru_cache(maxsize=64)
def _variant(src: str, long_side: int, cache_dir: str) -> bytes:
    from PIL import Image

    path = Path(cache_dir, f"{Path(src).stem}_{long_side}.jpg")
    if not path.exists():
        im = Image.open(src).convert("RGB")
        im = im.resize(_scaled(im.size, long_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        tmp = path.with_suffix(f".{threading.get_ident()}.part")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)
    return path.read_bytes()


def image(cat_index: dict[str, str], sources: dict[str, str], cache_dir: str, req: Request) -> Response:
    """``/photos/<server>/<id>_<secret>[_size].jpg``: the photo at that size, or 404."""
    name = req.path.rsplit("/", 1)[-1]
    stem, _, ext = name.rpartition(".")
    parts = stem.split("_")
    suffix = f"_{parts[2]}" if len(parts) == 3 else ""
    if ext != "jpg" or len(parts) not in (2, 3) or suffix not in SIZES or parts[0] not in cat_index:
        return Response(404, b"not found", content_type="text/plain")
    data = _variant(sources[cat_index[parts[0]]], SIZES[suffix][1], cache_dir)
    return Response(200, data, content_type="image/jpeg")


def unavailable(req: Request) -> Response:
    """The stand-in placeholder, with status 200 as Flickr serves its own."""
    from include.sample_source.placeholder import stand_in_png

    return Response(200, stand_in_png(), content_type="image/png")


def connection_json(base_url: str, key: str = API_KEY, requests_per_hour: int = 1_000_000) -> str:
    """``AIRFLOW_CONN_FLICKR_DEFAULT`` for this emulator (the demo and tests use a generous budget)."""
    host, _, port = base_url.split("://", 1)[1].partition(":")
    return json.dumps({"conn_type": "http", "host": host, "port": int(port), "schema": "http", "password": key,
                       "extra": {"endpoint": f"{PREFIX}/services/rest", "requests_per_hour": requests_per_hour}})


def mount(source: SampleSource) -> dict[str, str]:
    from include.sample_source.media import color_photos

    cache_dir = source.data_dir / NAME
    cache_dir.mkdir(parents=True, exist_ok=True)
    dims = base_dims()
    cat = build_catalogue(source.base_url, dims)
    # The base photo is fixed at generation (the title names it).
    index = {p["id"]: p["title"].rsplit(" of ", 1)[1] for p in cat.photos}
    sources = {name: str(path) for name, path in color_photos().items()}
    source.mount(f"{PREFIX}/services/rest", lambda req: rest(cat, req))
    source.mount(f"{PREFIX}/photos", lambda req: image(index, sources, str(cache_dir), req))
    source.mount(f"{PREFIX}/images/photo_unavailable.png", unavailable)
    return {
        "flickr_endpoint": f"{source.base_url}{PREFIX}/services/rest",
        "flickr_api_key": API_KEY,
        "flickr_limited_key": LIMITED_KEY,
        "flickr_dense_day": DENSE_DAY,
        "flickr_burst_day": BURST_DAY,
        "flickr_empty_day": EMPTY_DAY,
        "flickr_conn_json": connection_json(source.base_url),
        "flickr_placeholder_url": f"{source.base_url}{PREFIX}/images/photo_unavailable.png",
    }
