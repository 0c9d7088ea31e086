"""Flickr as a provider: the licence table, the record mapping and the ingester hooks (the API client is in
``flickr_api.py``).

External limits: one API key may make 3,600 requests per hour; one query reaches at most 4,000 results (pages
past that repeat earlier photos); ``photos.total`` is often lower than the truth; pages are 1-based;
``stat: "fail"`` is an error, never the end of data (openverse-flickr.md §6). Record mapping follows Openverse
``FlickrDataIngester.get_record_data`` (§6.3) except for the size preference, which defaults to the seed's
medium-first order (formats.md §1.1; the downloader scales to a 256 px short side anyway). URL validation uses
tldextract's bundled suffix list and never touches the network.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from include.visionflow.errors import BadInputError
from include.visionflow.formats.openverse_tsv import ImageRecord
from include.visionflow.sources.base import Dropped, RecordSink, RoundResult
from include.visionflow.sources.flickr_api import MAX_UNIQUE_RESULTS, PER_PAGE, FlickrClient, SearchQuery, parse_search
from include.visionflow.sources.timeslice import Slice, TimeDelineatedIngester

log = logging.getLogger(__name__)

PROVIDER = "flickr"
DEFAULT_LICENSE_IDS = (1, 2, 3, 4, 5, 6, 9, 10)
PHOTO_URL_BASE = "https://www.flickr.com/photos/"
DESCRIPTION_MAX = 2000
TAGS_MAX = 2000
# Upstream (continuous_ssl crawl_flickr.py) prefers medium; Openverse prefers large: ("l", "m", "s").
SEED_SIZE_PREFERENCE = ("m", "l", "s")
OPENVERSE_SIZE_PREFERENCE = ("l", "m", "s")

# Openverse common/loader/provider_details.py: owner NSID -> sub-provider ``source``.
SUB_PROVIDERS: dict[str, frozenset[str]] = {
    "nasa": frozenset({"24662369@N07", "35067687@N04", "29988733@N04", "28634332@N05", "108488366@N07",
                       "136485307@N06"}),
    "bio_diversity": frozenset({"61021753@N02"}),
    "spacex": frozenset({"130608600@N05"}),
    "woc_tech": frozenset({"136629440@N06"}),
    "valence_romans": frozenset({"150408343@N02"}),
    "east_riding": frozenset({"138361426@N08"}),
    "archief_alkmaar": frozenset({"98304311@N03"}),
    "bib_gulbenkian": frozenset({"26577438@N06"}),
}
# Openverse ImageStore tag denylist: exact names, and substrings (licence words, machine tags).
TAG_DENY_EXACT = frozenset({"no person", "squareformat"})
TAG_DENY_CONTAINS = ("flickriosapp", "uploaded", ":", "=", "cc0", "cc-by", "creativecommons",
                     "creative commons", "publicdomain", "public domain")


@dataclass(frozen=True)
class License:
    name: str
    version: str

    @property
    def url(self) -> str:
        if self.name == "cc0":
            return f"https://creativecommons.org/publicdomain/zero/{self.version}/"
        if self.name == "pdm":
            return f"https://creativecommons.org/publicdomain/mark/{self.version}/"
        return f"https://creativecommons.org/licenses/{self.name}/{self.version}/"


# A static table: Openverse's lookup follows redirects on creativecommons.org, which needs the network.
LICENSES: dict[int, License] = {
    1: License("by-nc-sa", "2.0"), 2: License("by-nc", "2.0"), 3: License("by-nc-nd", "2.0"),
    4: License("by", "2.0"), 5: License("by-sa", "2.0"), 6: License("by-nd", "2.0"),
    9: License("cc0", "1.0"), 10: License("pdm", "1.0"),
}
_LICENSE_NAMES = {"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "cc0", "pdm"}


def license_table(extra: Mapping[Any, Any] | None = None) -> dict[int, License]:
    """The static table extended by ``extra`` (e.g. Flickr's CC 4.0 ids): ``{"11": ["by", "4.0"]}`` or
    ``{"11": {"license": "by", "version": "4.0"}}``. A malformed entry is a clear error."""
    table = dict(LICENSES)
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping):
            name, version = value.get("license"), value.get("version")
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            name, version = value
        else:
            name = version = None
        if not str(key).isdigit() or name not in _LICENSE_NAMES or not re.fullmatch(r"\d\.\d", str(version)):
            raise BadInputError(f"licence extension {key!r}: {value!r} is not [<cc licence>, <version>]")
        table[int(key)] = License(str(name), str(version))
    return table


_EXTRACT = None


def _extractor():
    global _EXTRACT
    if _EXTRACT is None:
        import tldextract

        # No suffix-list download, no cache writes: the bundled snapshot only.
        _EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return _EXTRACT


def validate_url(url: Any) -> str | None:
    """``url`` if it names a registrable domain or an IPv4 host, without a trailing slash; else None."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if "://" not in url:
        url = f"https://{url}"
    if not url.startswith(("http://", "https://")):
        return None
    parts = _extractor()(url)
    if not ((parts.domain and parts.suffix) or parts.ipv4):
        return None
    return url.rstrip("/")


@dataclass(frozen=True)
class ImageSize:
    url: str
    width: int | None
    height: int | None


def choose_size(photo: Mapping[str, Any], preference: tuple[str, ...]) -> ImageSize | None:
    for size in preference:
        url = photo.get(f"url_{size}")
        if url:
            w, h = photo.get(f"width_{size}"), photo.get(f"height_{size}")
            return ImageSize(url, int(w) if w not in (None, "") else None, int(h) if h not in (None, "") else None)
    return None


def clean_description(raw: Any) -> str | None:
    """Text of an HTML description, at most 2,000 characters; None when blank."""
    text = raw.get("_content") if isinstance(raw, Mapping) else raw
    if not isinstance(text, str) or not text.strip():
        return None
    import lxml.html

    try:
        text = lxml.html.fromstring(text).text_content()
    except (ValueError, lxml.etree.ParserError):
        pass
    text = text.strip()[:DESCRIPTION_MAX]
    return text or None


def create_tags(raw: Any, max_chars: int = TAGS_MAX) -> list[str]:
    """Sorted, de-duplicated tags from the first ``max_chars`` characters of the space-separated string."""
    if not isinstance(raw, str) or not raw.strip():
        return []
    return sorted(set(raw[:max_chars].split()))


def tag_allowed(tag: str) -> bool:
    low = tag.lower()
    return low not in TAG_DENY_EXACT and not any(part in low for part in TAG_DENY_CONTAINS)


def sub_provider(owner: str) -> str:
    for name, owners in SUB_PROVIDERS.items():
        if owner in owners:
            return name
    return PROVIDER


def _filetype(url: str) -> str | None:
    ext = url.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in url.rsplit("/", 1)[-1] else ""
    return {"jpeg": "jpg", "tif": "tiff"}.get(ext, ext) or None


def _license_of(photo: Mapping[str, Any], licenses: Mapping[int, License]) -> License | None:
    try:
        return licenses.get(int(str(photo.get("license", "")).strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class FlickrMapper:
    """Turns one ``photos.photo`` entry into an ``ImageRecord`` or a ``Dropped`` with a reason code."""

    licenses: Mapping[int, License] = field(default_factory=lambda: dict(LICENSES))
    size_preference: tuple[str, ...] = SEED_SIZE_PREFERENCE

    def __call__(self, photo: Mapping[str, Any]) -> ImageRecord | Dropped:
        lic = _license_of(photo, self.licenses)
        if lic is None:
            return Dropped("unknown_license")
        size = choose_size(photo, self.size_preference)
        if size is None:
            return Dropped("no_image_url")
        photo_id, owner = str(photo.get("id") or ""), str(photo.get("owner") or "")
        if not photo_id:
            return Dropped("no_id")
        if not owner:
            return Dropped("no_owner")
        url = validate_url(size.url)
        if url is None:
            return Dropped("invalid_url")
        creator_url = validate_url(f"{PHOTO_URL_BASE}{owner}")
        meta = meta_data(photo)
        meta.update({"license_url": lic.url, "raw_license_url": None})
        return ImageRecord(
            foreign_identifier=photo_id,
            foreign_landing_url=f"{creator_url}/{photo_id}",
            url=url,
            license=lic.name,
            license_version=lic.version,
            filetype=_filetype(url),
            creator=photo.get("ownername") or None,
            creator_url=creator_url,
            title=photo.get("title") or None,
            meta_data=meta,
            tags=[{"name": t, "provider": PROVIDER} for t in create_tags(photo.get("tags")) if tag_allowed(t)],
            category="photograph" if str(photo.get("content_type", "")) == "0" else None,
            provider=PROVIDER,
            source=sub_provider(owner),
            width=size.width,
            height=size.height,
        )


def meta_data(photo: Mapping[str, Any]) -> dict[str, Any]:
    meta = {
        "pub_date": photo.get("dateupload"),
        "date_taken": photo.get("datetaken"),
        "views": photo.get("views"),
        "description": clean_description(photo.get("description")),
    }
    return {k: v for k, v in meta.items() if v is not None}


class FlickrIngester(TimeDelineatedIngester[ImageRecord, SearchQuery]):
    """The Flickr hooks. Queries are sorted by upload date ascending so a saturated slice has a cursor."""

    SORT = "date-posted-asc"

    def __init__(self, client: FlickrClient, sink: RecordSink[ImageRecord],
                 mapper: Callable[[Mapping[str, Any]], ImageRecord | Dropped] | None = None,
                 per_page: int = PER_PAGE, cap: int = MAX_UNIQUE_RESULTS, **kwargs):
        super().__init__(sink, **kwargs)
        self.client = client
        self.mapper = mapper or FlickrMapper(licenses=client.config.licenses)
        self.per_page = per_page
        self.cap = cap
        # Count probes ask for a full first page (same request cost as per_page=1): when the probed slice
        # is crawled as planned, that page is not fetched again.
        self._first_pages: dict[tuple[int, int, tuple[int, ...]], dict] = {}

    def get_next_query_params(self, prev: SearchQuery | None, round: Slice) -> SearchQuery:
        return SearchQuery(round, 1 if prev is None else prev.page + 1, self.per_page, self.SORT)

    def get_response_json(self, params: SearchQuery) -> dict:
        sl = params.slice
        if params.page == 1:
            cached = self._first_pages.pop((sl.start, sl.end, sl.licenses), None)
            if cached is not None:
                return cached
        return self.client.call("flickr.photos.search", **params.api_params())

    def get_batch_data(self, response: dict) -> list:
        return parse_search(response).photos

    def get_record_data(self, item: Any) -> ImageRecord | Dropped:
        return self.mapper(item)

    def get_item_id(self, item: Any) -> str | None:
        return str(item["id"]) if item.get("id") else None

    def get_item_time(self, item: Any) -> int:
        return int(item["dateupload"])

    def get_should_continue(self, response: dict, batch: list, new_in_batch: int, result: RoundResult) -> bool:
        # Reported totals lie (too low), so never stop on `pages`: a full page means there may be more.
        if len(batch) < self.per_page:
            return False
        if new_in_batch == 0 or result.pages * self.per_page >= self.cap:
            result.saturated = True  # a capped API repeats itself: nothing new is reachable from here
            return False
        return True

    def get_record_count(self, sl: Slice) -> int:
        response = self.client.call("flickr.photos.search", **SearchQuery(sl, 1, self.per_page, self.SORT).api_params())
        self._first_pages[(sl.start, sl.end, sl.licenses)] = response
        return parse_search(response).total
