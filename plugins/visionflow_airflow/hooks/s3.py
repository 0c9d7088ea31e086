"""S3 settings from an Airflow ``aws`` connection (login/password = keys, extra endpoint_url/region_name)."""
from __future__ import annotations

import logging

from include.visionflow.storage import S3Options

log = logging.getLogger(__name__)


def s3_options(conn_id: str, unsigned_default: bool = False) -> S3Options:
    """Options for ``conn_id``; without such a connection, boto3's own chain (or unsigned access)."""
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("no connection %s: using boto3 defaults%s", conn_id, " (unsigned)" if unsigned_default else "")
        return S3Options(unsigned=unsigned_default)
    extra = conn.extra_dejson
    return S3Options(
        endpoint_url=extra.get("endpoint_url") or (extra.get("service_config", {}).get("s3", {}) or {}).get("endpoint_url"),
        access_key=conn.login or None,
        secret_key=conn.password or None,
        region=extra.get("region_name"),
        unsigned=bool(extra.get("unsigned", False)) or (unsigned_default and not conn.login),
    )
