"""The ``flickr_default`` connection: endpoint, API key, request budget, optional OAuth 1.0a signing.

Connection fields: ``schema`` (default ``https``), ``host`` (``api.flickr.com``), ``port`` (optional),
``password`` = the API key, extra ``endpoint`` (``/services/rest``), ``requests_per_hour`` (3600, the key's
budget), ``licenses`` (licence ids to add to the static table, e.g. ``{"11": ["by", "4.0"]}``), and, to sign
requests, ``oauth_token``, ``oauth_token_secret`` and ``api_secret``. The budget is enforced per worker
process by a limiter; run crawl tasks in the one-slot pool ``flickr_api`` so all of them share it.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

from airflow.sdk import BaseHook

DEFAULT_SCHEMA = "https"
DEFAULT_HOST = "api.flickr.com"
DEFAULT_PATH = "/services/rest"


def config_from_connection(schema: str | None, host: str | None, port: int | None, password: str | None,
                           extra: Mapping[str, Any]):
    """A ``FlickrConfig`` from connection fields (kept separate from the hook so it is easy to test)."""
    from include.visionflow.sources.flickr import license_table
    from include.visionflow.sources.flickr_api import FlickrConfig, OAuthCredentials

    path = str(extra.get("endpoint") or DEFAULT_PATH)
    if not path.startswith("/"):
        path = "/" + path
    endpoint = f"{schema or DEFAULT_SCHEMA}://{host or DEFAULT_HOST}{f':{port}' if port else ''}{path}"
    oauth = None
    if extra.get("oauth_token") and extra.get("oauth_token_secret") and extra.get("api_secret"):
        oauth = OAuthCredentials(str(extra["api_secret"]), str(extra["oauth_token"]),
                                 str(extra["oauth_token_secret"]))
    return FlickrConfig(
        api_key=password or "",
        endpoint=endpoint,
        requests_per_hour=float(extra.get("requests_per_hour") or 3600),
        oauth=oauth,
        licenses=license_table(extra.get("licenses")),
    )


class FlickrHook(BaseHook):
    """Resolves ``flickr_conn_id`` once and hands out a ready ``FlickrClient``.

    :param flickr_conn_id: the connection (default ``flickr_default``)
    """

    conn_name_attr = "flickr_conn_id"
    default_conn_name = "flickr_default"
    conn_type = "http"
    hook_name = "Flickr"

    def __init__(self, flickr_conn_id: str = default_conn_name, **kwargs):
        super().__init__(**kwargs)
        self.flickr_conn_id = flickr_conn_id

    @cached_property
    def config(self):
        conn = self.get_connection(self.flickr_conn_id)
        return config_from_connection(conn.schema, conn.host, conn.port, conn.password, conn.extra_dejson)

    def get_conn(self):
        from include.visionflow.sources.flickr_api import FlickrClient

        return FlickrClient(self.config)
