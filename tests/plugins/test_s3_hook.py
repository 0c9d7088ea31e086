"""The S3 settings come from the Amazon provider's own connection handling: session tokens, role
assumption and endpoint_url work as Airflow users expect, against moto's S3 and STS server."""
from __future__ import annotations

import json
import uuid

from include.sample_source.s3 import ACCESS_KEY, REGION, SECRET_KEY
from include.visionflow.storage import open_storage


def roundtrip(options, s3, bucket: str) -> str:
    s3.client().create_bucket(Bucket=bucket)
    storage = open_storage(f"s3://{bucket}/root", options)
    storage.write_text("a/b.txt", "hello")
    return storage.read_text("a/b.txt")


def test_session_token_and_endpoint_reach_boto3(sample_source, monkeypatch):
    from visionflow_airflow.hooks.s3 import s3_options

    s3 = sample_source.s3
    monkeypatch.setenv("AIRFLOW_CONN_VF_TOKEN", json.dumps({
        "conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
        "extra": {"aws_session_token": "FwoGZXIvYXdzEXAMPLETOKEN", "endpoint_url": s3.endpoint_url,
                  "region_name": REGION}}))
    options = s3_options("vf_token")
    assert options.endpoint_url == s3.endpoint_url
    credentials = options.session.get_credentials()
    assert credentials.token == "FwoGZXIvYXdzEXAMPLETOKEN" and credentials.access_key == ACCESS_KEY
    assert SECRET_KEY not in repr(options) and "EXAMPLETOKEN" not in repr(options)
    assert roundtrip(options, s3, f"vf-token-{uuid.uuid4().hex[:8]}") == "hello"


def test_role_assumption_goes_through_sts(sample_source, monkeypatch):
    from visionflow_airflow.hooks.s3 import s3_options

    s3 = sample_source.s3
    monkeypatch.setenv("AIRFLOW_CONN_VF_ROLE", json.dumps({
        "conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
        "extra": {"role_arn": "arn:aws:iam::123456789012:role/visionflow-writer", "region_name": REGION,
                  "service_config": {"s3": {"endpoint_url": s3.endpoint_url},
                                     "sts": {"endpoint_url": s3.endpoint_url}}}}))
    options = s3_options("vf_role")
    credentials = options.session.get_credentials().get_frozen_credentials()
    assert credentials.access_key != ACCESS_KEY and credentials.token  # temporary credentials from STS
    assert roundtrip(options, s3, f"vf-role-{uuid.uuid4().hex[:8]}") == "hello"


def test_missing_connection_falls_back_to_unsigned_for_public_buckets():
    from visionflow_airflow.hooks.s3 import s3_options

    assert s3_options("no_such_connection", unsigned_default=True).unsigned is True
