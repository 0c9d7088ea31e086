"""The ``flickr_default`` connection: endpoint, API key, request budget, optional OAuth 1.0a signing.

Connection fields: ``schema`` (default ``https``), ``host`` (``api.flickr.com``), ``port`` (optional),
``password`` = the API key, extra ``endpoint`` (``/services/rest``), ``requests_per_hour`` (3600, the key's
budget), ``licenses`` (licence ids to add to the static table, e.g. ``{"11": ["by", "4.0"]}``), and, to sign
requests, ``oauth_token``, ``oauth_token_secret`` and ``api_secret``.

The budget holds for the key as a whole, across workers and hosts, when a Redis server is reachable: extra
``rate_limit_redis`` (a ``redis://`` URL), else ``VISIONFLOW_RATE_LIMIT_REDIS``, else the Celery broker when
it is Redis. Without one the budget is shared by the processes of the machine through a lock file (one
LocalExecutor machine); workers on several hosts need Redis.
"""
from __future__ import annotations

import os
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

    @cached_property
    def rate_limit_redis(self) -> str:
        """Where the key's shared budget lives ('' = nowhere: a per-process limiter)."""
        from airflow.configuration import conf

        extra = self.get_connection(self.flickr_conn_id).extra_dejson
        url = str(extra.get("rate_limit_redis") or os.environ.get("VISIONFLOW_RATE_LIMIT_REDIS") or "")
        if not url and "Celery" in conf.get("core", "executor", fallback=""):
            url = conf.get("celery", "broker_url", fallback="")
        return url if url.startswith(("redis://", "rediss://", "unix://")) else ""

    def limiter(self):
        import tempfile
        from pathlib import Path

        from include.visionflow.fetch.limit import FileRateLimiter, SharedRateLimiter, budget_name

        config = self.config
        name = "flickr-" + budget_name(config.api_key)
        if not self.rate_limit_redis:
            path = Path(tempfile.gettempdir(), "visionflow-rate", name)
            self.log.info("Flickr budget %s requests/hour, shared by this machine's tasks (%s; no Redis "
                          "configured)", config.requests_per_hour, path)
            return FileRateLimiter(path, config.requests_per_hour)
        shared = SharedRateLimiter(self.rate_limit_redis, name, config.requests_per_hour)
        self.log.info("Flickr budget %s requests/hour, shared by every worker (%r)", config.requests_per_hour,
                      shared)
        return shared

    def get_conn(self):
        from include.visionflow.sources.flickr_api import FlickrClient

        return FlickrClient(self.config, limiter=self.limiter())
