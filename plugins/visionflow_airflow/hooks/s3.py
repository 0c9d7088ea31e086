"""S3 settings from an Airflow ``aws`` connection, read by the Amazon provider itself.

The provider's ``S3Hook`` (through ``AwsConnectionWrapper``) understands everything users put in an aws
connection: keys, ``aws_session_token``, ``role_arn`` role assumption, profiles, ``endpoint_url`` (globally or
per service) and ``region_name``. Its boto3 session goes to the engine, so nothing here re-parses the connection.
"""
from __future__ import annotations

import logging

from include.visionflow.storage import S3Options

log = logging.getLogger(__name__)


def s3_options(conn_id: str, unsigned_default: bool = False) -> S3Options:
    """Options for ``conn_id``; without such a connection, boto3's own chain (or unsigned access, for public
    buckets such as OpenImages' when ``unsigned_default``)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("no connection %s: using boto3 defaults%s", conn_id, " (unsigned)" if unsigned_default else "")
        return S3Options(unsigned=unsigned_default)
    hook = S3Hook(aws_conn_id=conn_id)
    config = hook.conn_config
    unsigned = bool(config.extra_config.get("unsigned", False)) or (
        unsigned_default and not config.aws_access_key_id and not config.role_arn and not config.profile_name)
    return S3Options(
        endpoint_url=config.get_service_endpoint_url("s3"),
        region=hook.conn_region_name,
        unsigned=unsigned,
        session=None if unsigned else hook.get_session(region_name=hook.conn_region_name),
    )
