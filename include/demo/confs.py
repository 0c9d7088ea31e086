"""The demo run of every dataset DAG, in one table: dag_id -> how to build its conf from the sample source.

Each builder gets the sample source's ``urls`` (``urls.json``) and the demo's data folder and returns the
``dag_run.conf`` for ``airflow dags trigger``; it raises ``MissingCatalog`` when the sample source does not
(yet) serve what the DAG needs, and the demo skips that DAG with a note. ``outputs`` names the folder(s) the
summary reader looks in. Adding a dataset to the demo means adding one entry here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class MissingCatalog(LookupError):
    """The sample source serves no catalogue for this DAG."""


def _need(urls: dict[str, str], *keys: str) -> list[str]:
    missing = [k for k in keys if k not in urls]
    if missing:
        raise MissingCatalog(f"sample source has no {', '.join(missing)}")
    return [urls[k] for k in keys]


@dataclass(frozen=True)
class DemoRun:
    dataset: str
    build: Callable[[dict[str, str], Path], dict]
    # Output root(s) relative to the demo data folder, for the summary.
    outputs: tuple[str, ...]


def _openimages(urls: dict[str, str], data: Path) -> dict:
    metadata_url, boxable_url = _need(urls, "openimages_metadata_url", "openimages_boxable_url")
    return {
        "metadata_url": metadata_url,
        "boxable_url": boxable_url,
        "output_root": str(data / "openimages"),
        "splits": ["train", "extended_targets"],
        "train_size": 8,
        "thumbnail_size": 256,
        "tarballs": True,
    }


# Ordered: runs are triggered (and summarised) in this order.
DEMO_RUNS: dict[str, DemoRun] = {
    "openimages_v4": DemoRun("OpenImages V4", _openimages, ("openimages",)),
}


def connections(urls: dict[str, str]) -> dict[str, str]:
    """AIRFLOW_CONN_* variables for the demo, all pointing at the sample source (dummy credentials)."""
    import json

    env: dict[str, str] = {}
    if "s3_endpoint" in urls:
        s3 = json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": urls["s3_endpoint"], "region_name": "us-east-1"},
        })
        env["AIRFLOW_CONN_AWS_DEFAULT"] = s3
        env["AIRFLOW_CONN_OPENIMAGES_S3"] = s3
    return env
