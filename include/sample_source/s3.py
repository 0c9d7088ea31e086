"""An S3 endpoint on 127.0.0.1, served by moto's server mode (a real HTTP S3 API, not a patch)."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# moto accepts any credentials; these are the conventional dummies.
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


class MotoS3:
    def __init__(self, port: int):
        self.port = port
        self._server = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoS3":
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        log.info("moto S3 on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, region_name=REGION,
        )

    def ensure_bucket(self, bucket: str):
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
        return client

    def connection_json(self) -> str:
        """An Airflow ``aws`` connection (AIRFLOW_CONN_<ID> JSON form) pointing here."""
        import json

        return json.dumps({
            "conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
        })
