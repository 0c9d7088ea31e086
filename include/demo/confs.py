"""The demo run of every dataset DAG, in one table: dag_id -> how to build its conf from the sample source.

Each builder gets the sample source's ``urls`` (``urls.json``) and the demo's data folder and returns the
``dag_run.conf`` for ``airflow dags trigger``; it raises ``MissingCatalog`` when the sample source does not
(yet) serve what the DAG needs, and the demo skips that DAG with a note. ``after`` names a DAG whose demo run
must succeed first (the Flickr chain crawl -> subsets -> download). ``counts`` says where the run's item counts
are (see ``include/demo/summary.py``). Adding a dataset to the demo means adding one entry here.
"""
from __future__ import annotations

import json
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
class Counts:
    """Where a run's item counts are: JSON files matching ``glob`` (relative to the demo data folder;
    ``{run}`` is the run id made path-safe), and inside each, the dicts at ``path`` (dot-separated, ``*``
    for every key) holding a ``counts`` mapping of status -> number (or the dict itself). ``ok`` names the
    ok count; ``failed`` names the failed count (a number or a dict of numbers), by default every
    ``failed*``/``refused*``/``error*`` status."""
    glob: str
    path: str = ""
    ok: str = "ok"
    failed: str | None = None


@dataclass(frozen=True)
class DemoRun:
    dataset: str
    build: Callable[[dict[str, str], Path], dict]
    output: str  # shown in the summary, relative to the demo data folder
    counts: Counts | None = None
    after: str | None = None


def _openimages(urls: dict[str, str], data: Path) -> dict:
    metadata_url, boxable_url = _need(urls, "openimages_metadata_url", "openimages_boxable_url")
    return {"metadata_url": metadata_url, "boxable_url": boxable_url, "output_root": str(data / "openimages"),
            "splits": ["train", "extended_targets"], "train_size": 8, "thumbnail_size": 256, "tarballs": True}


def _flickr_crawl(urls: dict[str, str], data: Path) -> dict:
    # A small day of the emulator (120 photos); the dense day (13,200 photos) is for the tests.
    _need(urls, "flickr_endpoint")
    return {"date": "2021-06-01", "output_root": str(data / "flickr_cc"), "reprocess": True}


def _flickr_subsets(urls: dict[str, str], data: Path) -> dict:
    _need(urls, "flickr_endpoint")
    return {"output_root": str(data / "flickr_cc"), "sizes": [0.00005], "seed": 0}


def _flickr_download(urls: dict[str, str], data: Path) -> dict:
    _need(urls, "flickr_endpoint")
    return {"output_root": str(data / "flickr_cc"), "subset": "flickr-5e-05M.tsv.gz", "short_side": 128}


def _kinetics(urls: dict[str, str], data: Path) -> dict:
    annotations, template = _need(urls, "kinetics_annotations_url", "kinetics_url_template")
    return {"dataset": "kinetics400", "annotations_url": annotations, "video_source": "url_template",
            "url_template": template, "splits": ["train", "val"], "output_root": str(data / "kinetics400"),
            "short_side": 128, "dense": True, "frames": True, "limit": 3}


def _video_frames(urls: dict[str, str], data: Path) -> dict:
    (video_dir,) = _need(urls, "video_frames_dir")
    return {"video_dir": video_dir, "frames_dir": str(data / "video_frames"), "fps": 5, "short_side": 128}


# Ordered: runs are triggered (and summarised) in this order.
DEMO_RUNS: dict[str, DemoRun] = {
    "openimages_v4": DemoRun("OpenImages V4", _openimages, "openimages",
                             Counts("openimages/*/summary.json")),
    "flickr_cc_crawl": DemoRun("Flickr-CC crawl (1 day)", _flickr_crawl, "flickr_cc/meta",
                               Counts("flickr_cc/meta/2021-06-01/crawl.json", ok="rows", failed="dropped")),
    "flickr_cc_subsets": DemoRun("Flickr-CC subsets", _flickr_subsets, "flickr_cc/lists",
                                 after="flickr_cc_crawl"),
    "flickr_cc_download": DemoRun("Flickr-CC download", _flickr_download, "flickr_cc/images",
                                  Counts("flickr_cc/_work/flickr_download/flickr-5e-05M/summary.json"),
                                  after="flickr_cc_subsets"),
    "kinetics": DemoRun("Kinetics-400 (clips)", _kinetics, "kinetics400",
                        Counts("kinetics400/summary.json", "splits.*.clips")),
    "video_frames": DemoRun("Video frames", _video_frames, "video_frames",
                            Counts("video_frames/_work/video_frames/{run}/manifests/*.stats.json")),
}


def connections(urls: dict[str, str]) -> dict[str, str]:
    """AIRFLOW_CONN_* variables for the demo, all pointing at the sample source (dummy credentials)."""
    env: dict[str, str] = {}
    if "s3_endpoint" in urls:
        s3 = json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": urls["s3_endpoint"], "region_name": "us-east-1"},
        })
        env["AIRFLOW_CONN_AWS_DEFAULT"] = s3
        env["AIRFLOW_CONN_OPENIMAGES_S3"] = s3
    if "flickr_conn_json" in urls:
        env["AIRFLOW_CONN_FLICKR_DEFAULT"] = urls["flickr_conn_json"]
    return env
