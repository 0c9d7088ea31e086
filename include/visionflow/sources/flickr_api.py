"""The Flickr REST API client: configuration, rate-limited and secret-masked calls, search pages.

External limits: one API key may make 3,600 requests per hour; one query reaches at most 4,000 results (pages
past that repeat earlier photos); ``photos.total`` is often lower than the truth; pages are 1-based;
``stat: "fail"`` is an error, never the end of data (openverse-flickr.md §6).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from include.visionflow.errors import BadInputError, FetchError, VisionflowError
from include.visionflow.sources.timeslice import Slice

if TYPE_CHECKING:  # the licence table lives with the record mapping, which imports this module
    from include.visionflow.sources.flickr import License

log = logging.getLogger(__name__)


def _standard_licenses() -> dict:
    # imported when a config is made: the record mapping (sources/flickr.py) imports this module
    from include.visionflow.sources.flickr import LICENSES

    return dict(LICENSES)

ENDPOINT = "https://api.flickr.com/services/rest"
PER_PAGE = 500
MAX_UNIQUE_RESULTS = 4000
EXTRAS = ("description,license,date_upload,date_taken,owner_name,tags,o_dims,url_t,url_s,url_m,url_l,views,"
          "content_type")


@dataclass(frozen=True)
class OAuthCredentials:
    """OAuth 1.0a user credentials; the API key is the consumer key, ``api_secret`` its secret."""

    api_secret: str = field(repr=False)
    oauth_token: str = field(repr=False)
    oauth_token_secret: str = field(repr=False)


@dataclass(frozen=True)
class FlickrConfig:
    """Everything the client needs; secrets are kept out of ``repr``."""

    api_key: str = field(repr=False)
    endpoint: str = ENDPOINT
    requests_per_hour: float = 3600.0
    oauth: OAuthCredentials | None = field(default=None, repr=False)
    licenses: Mapping[int, License] = field(default_factory=lambda: _standard_licenses())

    def __post_init__(self):
        if not self.api_key:
            raise BadInputError("the Flickr API key is empty: set it as the flickr_default connection's password")
        if not self.endpoint.startswith(("http://", "https://")):
            raise BadInputError(f"Flickr endpoint {self.endpoint!r} is not an http(s) URL")
        if self.requests_per_hour <= 0:
            raise BadInputError(f"requests_per_hour must be positive, got {self.requests_per_hour}")

    def secrets(self) -> list[str]:
        values = [self.api_key]
        if self.oauth:
            values += [self.oauth.api_secret, self.oauth.oauth_token, self.oauth.oauth_token_secret]
        return [v for v in values if v]


class FlickrApiError(VisionflowError):
    """The API answered ``stat: fail`` (or something that is not a search response)."""

    def __init__(self, code: Any, message: str):
        super().__init__(f"Flickr API error {code}: {message}")
        self.code = code


@dataclass(frozen=True)
class SearchPage:
    page: int
    pages: int
    perpage: int
    total: int
    photos: list[dict]


def _mask_url_loggers(secrets: list[str]) -> None:
    # urllib3 prints request URLs (``api_key=...``) and oauthlib signed headers at DEBUG.
    from include.visionflow import logmask

    logmask.install()
    logmask.register_secrets(*secrets)


class FlickrClient:
    """Rate-limited, masked calls to the REST endpoint. ``requests`` counts every request sent."""

    def __init__(self, config: FlickrConfig, fetcher=None, limiter=None):
        from include.visionflow.fetch.http import API_DEADLINE, FetchConfig, Fetcher
        from include.visionflow.fetch.limit import RateLimiter

        self.config = config
        self.fetcher = fetcher or Fetcher(FetchConfig(retries=5, max_bytes=32 * 1024 * 1024,
                                                      total_timeout=API_DEADLINE, opt_out=()))
        self.limiter = limiter or RateLimiter(config.requests_per_hour)
        self.requests = 0
        self._auth = None
        _mask_url_loggers(config.secrets())
        if config.oauth is not None:
            from requests_oauthlib import OAuth1

            self._auth = OAuth1(config.api_key, client_secret=config.oauth.api_secret,
                                resource_owner_key=config.oauth.oauth_token,
                                resource_owner_secret=config.oauth.oauth_token_secret)

    def mask(self, text: str) -> str:
        from include.visionflow import logmask

        return logmask.mask(text)  # the key and OAuth secrets were registered in __init__

    def call(self, method: str, **params: Any) -> dict:
        query = {"method": method, "api_key": self.config.api_key, "format": "json", "nojsoncallback": 1,
                 **params}
        self.limiter.acquire()
        self.requests += 1
        try:
            data = self.fetcher.get_json(self.config.endpoint, params=query, auth=self._auth)
        except FetchError as err:
            # A fetcher passed in by the caller may not be ours, which masks with logmask too.
            raise FetchError(err.reason, self.mask(err.detail), err.status_code) from None
        if not isinstance(data, dict) or data.get("stat") != "ok":
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message", "no message") if isinstance(data, dict) else "not a JSON object"
            raise FlickrApiError(code, self.mask(f"{message} (method {method})"))
        return data

    def search(self, query: "SearchQuery") -> SearchPage:
        return parse_search(self.call("flickr.photos.search", **query.api_params()))


@dataclass(frozen=True)
class SearchQuery:
    """One page of ``flickr.photos.search`` over a time slice: Openverse's query (§6.1), with 1-based pages
    and epoch-second bounds (inclusive)."""

    slice: Slice
    page: int = 1
    per_page: int = PER_PAGE
    sort: str | None = None

    def api_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "min_upload_date": self.slice.start, "max_upload_date": self.slice.end,
            "license": ",".join(str(i) for i in self.slice.licenses), "media": "photos", "safe_search": 1,
            "extras": EXTRAS, "page": self.page, "per_page": self.per_page,
        }
        if self.sort:
            params["sort"] = self.sort
        return params


def parse_search(data: Mapping[str, Any]) -> SearchPage:
    photos = data.get("photos")
    if not isinstance(photos, Mapping) or not isinstance(photos.get("photo", []), list):
        raise FlickrApiError("malformed", "response has no photos.photo list")
    return SearchPage(
        page=int(photos.get("page", 1) or 1), pages=int(photos.get("pages", 0) or 0),
        perpage=int(photos.get("perpage", 0) or 0), total=int(photos.get("total", 0) or 0),
        photos=list(photos.get("photo", [])),
    )
