"""Flickr-CC operators: each reads its (templated) arguments, calls one engine function and returns a small
XCom. Engine imports happen inside ``run`` so DAG parsing stays cheap."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, storage_for

ASSET_ALIAS = "flickr_cc_day"


def _is_set(value: Any) -> bool:
    return value not in (None, "", "None")


def resolve_day(explicit: Any, context) -> str:
    """The UTC day to crawl: the ``date`` param, else the run's data interval start (a scheduled or
    backfill run of the daily timetable), else the day before the run was requested (manual runs without a
    logical date: the last complete day)."""
    from include.visionflow.datasets.flickr import parse_day

    if _is_set(explicit):
        return parse_day(explicit).isoformat()
    start = context.get("data_interval_start")
    if start is not None:
        return parse_day(start).isoformat()
    run_after = context["dag_run"].run_after
    return parse_day(run_after - timedelta(days=1)).isoformat()


class CrawlFlickrDayOperator(VisionflowOperator):
    """Crawl one UTC day of CC photos into ``meta/<day>/``; emits an asset event for the day.

    :param output_root: local path or s3:// (templated)
    :param date: ``YYYY-MM-DD``; empty means the run's data interval (templated)
    :param reprocess: crawl again even if the day has its ``done`` marker (templated)
    :param strategy: ``walk`` (cursor over upload time, fewest requests) or ``plan`` (count probes) (templated)
    """

    template_fields: Sequence[str] = ("output_root", "date", "reprocess", "strategy")

    def __init__(self, *, output_root: str, date: Any = None, reprocess: Any = False, strategy: str = "walk",
                 flickr_conn_id: str = "flickr_default", aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.output_root, self.date, self.reprocess, self.strategy = output_root, date, reprocess, strategy
        self.flickr_conn_id, self.aws_conn_id = flickr_conn_id, aws_conn_id

    def run(self, context) -> dict:
        from airflow.sdk import Asset, AssetAlias

        from include.visionflow.datasets.flickr import DayLayout, crawl_day
        from visionflow_airflow.hooks.flickr import FlickrHook

        day = resolve_day(self.date, context)
        storage = storage_for(self.output_root, self.aws_conn_id)
        client = FlickrHook(self.flickr_conn_id).get_conn()
        result = crawl_day(client, storage, day, strategy=str(self.strategy), reprocess=bool(self.reprocess))
        uri = storage.uri(DayLayout(day).tsv)
        asset = Asset(name=f"flickr_cc/{day}", uri=uri if "://" in uri else f"file://{uri}")
        context["outlet_events"][AssetAlias(ASSET_ALIAS)].add(asset, extra={"day": day, "rows": result.rows})
        return result.to_xcom()


class BuildFlickrSubsetsOperator(VisionflowOperator):
    """Bucket files, ``lists/flickr.tsv.gz``, nested ``flickr-<N>M.tsv.gz`` and ``MD5SUMS`` from every crawled day.

    :param output_root: local path or s3:// (templated)
    :param sizes: subset sizes in millions of lines (templated)
    :param seed: shuffle seed (templated)
    """

    template_fields: Sequence[str] = ("output_root", "sizes", "seed")

    def __init__(self, *, output_root: str, sizes: Any, seed: Any = 0, aws_conn_id: str = "aws_default",
                 **kwargs):
        super().__init__(**kwargs)
        self.output_root, self.sizes, self.seed, self.aws_conn_id = output_root, sizes, seed, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets.flickr_subsets import build_subsets

        storage = storage_for(self.output_root, self.aws_conn_id)
        result = build_subsets(storage, seed=int(self.seed), sizes_m=tuple(float(s) for s in self.sizes))
        return result.to_xcom()


class PlanFlickrDownloadOperator(VisionflowOperator):
    """Cut ``lists/<subset>`` into shards; returns the shard specs to map over.

    :param output_root: where ``lists/`` and ``_work/`` live (templated)
    :param subset: list file name under ``lists/`` (templated)
    :param min_shard: rows per shard unless that leaves fewer than ``parallelism`` shards (templated)
    :param parallelism: shards to make at least, when the list has rows enough (templated)
    """

    template_fields: Sequence[str] = ("output_root", "subset", "min_shard", "parallelism")

    def __init__(self, *, output_root: str, subset: str, min_shard: Any = 1000, parallelism: Any = 1,
                 aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.output_root, self.subset, self.aws_conn_id = output_root, subset, aws_conn_id
        self.min_shard, self.parallelism = min_shard, parallelism

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets.flickr import plan_download

        specs = plan_download(storage_for(self.output_root, self.aws_conn_id), str(self.subset),
                              int(self.min_shard), int(self.parallelism))
        return [s.to_xcom() for s in specs]


class DownloadFlickrShardOperator(VisionflowOperator):
    """Download one shard to ``<root_dir>/<local_file>`` (short side resized, RGB JPEG); writes its manifest.

    :param shard: a shard spec from the plan (templated, usually mapped)
    :param output_root: where the shard and manifests live (templated)
    :param root_dir: where images go; empty means ``output_root`` (templated)
    """

    template_fields: Sequence[str] = ("shard", "output_root", "root_dir", "short_side", "quality")

    def __init__(self, *, shard: Any, output_root: str, root_dir: Any = "", short_side: Any = 256,
                 quality: Any = 75, aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.shard, self.output_root, self.root_dir = shard, output_root, root_dir
        self.short_side, self.quality, self.aws_conn_id = short_side, quality, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow import settings
        from include.visionflow.datasets.flickr import DownloadConfig, download_shard
        from include.visionflow.shards import ShardSpec

        storage = storage_for(self.output_root, self.aws_conn_id)
        root = storage_for(self.root_dir, self.aws_conn_id) if _is_set(self.root_dir) else storage
        cfg = DownloadConfig(short_side=int(self.short_side), quality=int(self.quality),
                             threads=settings.default_threads())
        stats = download_shard(storage, root, ShardSpec.from_xcom(self.shard), cfg)
        return stats.to_dict()


class SummarizeFlickrDownloadOperator(VisionflowOperator):
    """Totals of every shard manifest into ``_work/download/<stem>/summary.json``."""

    template_fields: Sequence[str] = ("shards", "output_root", "subset")

    def __init__(self, *, shards: Any, output_root: str, subset: str, aws_conn_id: str = "aws_default",
                 **kwargs):
        super().__init__(**kwargs)
        self.shards, self.output_root, self.subset, self.aws_conn_id = shards, output_root, subset, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets.flickr import summarize_download
        from include.visionflow.shards import ShardSpec

        specs = [ShardSpec.from_xcom(s) for s in self.shards]
        return summarize_download(storage_for(self.output_root, self.aws_conn_id), specs, str(self.subset))


class ConvertFlickrMemmapOperator(VisionflowOperator):
    """``lists/<subset stem>.memmap``: S120 ``local_file`` entries in list order (fails on a path > 120 bytes)."""

    template_fields: Sequence[str] = ("output_root", "subset")

    def __init__(self, *, output_root: str, subset: str, aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.output_root, self.subset, self.aws_conn_id = output_root, subset, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets.flickr import convert_to_mmap

        return convert_to_mmap(storage_for(self.output_root, self.aws_conn_id), str(self.subset))
