"""Flickr-CC operators: each reads its (templated) arguments, calls one engine function and returns a small
XCom. Engine imports happen inside ``run`` so DAG parsing stays cheap."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, as_bool, as_int, is_set, shard_specs, shard_xcom

ASSET_ALIAS = "flickr_cc_day"


def resolve_day(explicit: Any, context) -> str:
    """The UTC day to crawl: the ``date`` param, else the run's data interval start (a scheduled or
    backfill run of the daily timetable), else the day before the run was requested (manual runs without a
    logical date: the last complete day)."""
    from include.visionflow.datasets.flickr import parse_day

    if is_set(explicit):
        return parse_day(explicit).isoformat()
    start = context.get("data_interval_start")
    if start is not None:
        return parse_day(start).isoformat()
    run_after = context["dag_run"].run_after
    return parse_day(run_after - timedelta(days=1)).isoformat()


def suffix(value: Any) -> str:
    """The templated ``file_suffix``; empty when left unset."""
    return str(value) if is_set(value) else ""


class CrawlFlickrDayOperator(VisionflowOperator):
    """Crawl one UTC day of CC photos into ``meta/<day>/``; emits an asset event for the day.

    :param date: ``YYYY-MM-DD``; empty means the run's data interval (templated)
    :param reprocess: crawl again even if the day has its ``done`` marker (templated)
    :param strategy: ``walk`` (cursor over upload time, fewest requests) or ``plan`` (count probes) (templated)
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "date", "reprocess", "strategy")

    def __init__(self, *, date: Any = None, reprocess: Any = False, strategy: str = "walk",
                 flickr_conn_id: str = "flickr_default", **kwargs):
        super().__init__(**kwargs)
        self.date, self.reprocess, self.strategy, self.flickr_conn_id = date, reprocess, strategy, flickr_conn_id

    def run(self, context) -> dict:
        from airflow.sdk import Asset, AssetAlias

        from include.visionflow.datasets.flickr import crawl_day
        from include.visionflow.datasets.flickr_layout import DayLayout
        from visionflow_airflow.hooks.flickr import FlickrHook

        day = resolve_day(self.date, context)
        storage = self.storage()
        client = FlickrHook(self.flickr_conn_id).get_conn()
        result = crawl_day(client, storage, day, strategy=str(self.strategy), reprocess=as_bool(self.reprocess))
        uri = storage.uri(DayLayout(day).tsv)
        asset = Asset(name=f"flickr_cc/{day}", uri=uri if "://" in uri else f"file://{uri}")
        context["outlet_events"][AssetAlias(ASSET_ALIAS)].add(asset, extra={"day": day, "rows": result.rows})
        self.log.info("%s: %s photos in %s", day, result.rows, uri)
        return result.to_xcom()


class BuildFlickrSubsetsOperator(VisionflowOperator):
    """Bucket files, ``lists/flickr.tsv.gz``, nested ``flickr-<N>M.tsv.gz`` and ``MD5SUMS`` from every crawled day.

    :param sizes: subset sizes in millions of lines (templated)
    :param seed: shuffle seed (templated)
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "sizes", "seed")

    def __init__(self, *, sizes: Any, seed: Any = 0, **kwargs):
        super().__init__(**kwargs)
        self.sizes, self.seed = sizes, seed

    def run(self, context) -> dict:
        from include.visionflow.datasets.flickr_subsets import build_subsets

        storage = self.storage()
        result = build_subsets(storage, seed=as_int(self.seed, "seed", 0), sizes_m=tuple(float(s) for s in self.sizes))
        self.log.info("lists in %s: %s", storage.uri("lists"), result.to_xcom())
        return result.to_xcom()


class PlanFlickrDownloadOperator(VisionflowOperator):
    """Cut ``lists/<subset>`` into shards; returns the shard specs to map over.

    :param subset: list file name under ``lists/`` (templated)
    :param min_shard: rows per shard unless that leaves fewer than ``parallelism`` shards (templated)
    :param parallelism: shards to make at least, when the list has rows enough (templated)
    :param file_suffix: the image names' suffix; shards of another naming are kept apart (templated)
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "subset", "min_shard", "parallelism",
                                      "file_suffix")

    def __init__(self, *, subset: str, min_shard: Any = 1000, parallelism: Any = 1, file_suffix: Any = "",
                 **kwargs):
        super().__init__(**kwargs)
        self.subset, self.min_shard, self.parallelism, self.file_suffix = subset, min_shard, parallelism, file_suffix

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets.flickr import plan_download

        specs = plan_download(self.storage(), str(self.subset), as_int(self.min_shard, "min_shard_rows", 1000),
                              as_int(self.parallelism, "parallelism", 1), suffix(self.file_suffix))
        return [s.to_xcom() for s in specs]


class DownloadFlickrShardOperator(VisionflowOperator):
    """Download one shard to ``<root_dir>/<local_file>`` (short side resized, RGB JPEG); writes its manifest.

    :param shard: a shard spec from the plan (templated, usually mapped)
    :param root_dir: where images go; empty means ``output_root`` (templated)
    :param file_suffix: inserted before ``.jpg`` in each written name, e.g. ``-256p``; empty: as listed (templated)
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shard", "root_dir", "short_side",
                                      "quality", "fetch_deadline_s", "opt_out_directives", "file_suffix")

    def __init__(self, *, shard: Any, root_dir: Any = "", short_side: Any = 256, quality: Any = 75,
                 fetch_deadline_s: Any = 120,
                 opt_out_directives: Any = ("noai", "noimageai", "noindex", "noimageindex"), file_suffix: Any = "",
                 **kwargs):
        super().__init__(**kwargs)
        self.shard, self.root_dir, self.short_side, self.quality = shard, root_dir, short_side, quality
        self.fetch_deadline_s, self.opt_out_directives = fetch_deadline_s, opt_out_directives
        self.file_suffix = file_suffix

    def run(self, context) -> dict:
        from include.visionflow import settings
        from include.visionflow.datasets.flickr import DownloadConfig, download_shard
        from include.visionflow.fetch.http import image_fetcher
        from include.visionflow.shards import ShardSpec

        storage = self.storage()
        root = self.storage(self.root_dir) if is_set(self.root_dir) else storage
        cfg = DownloadConfig(short_side=as_int(self.short_side, "short_side"), quality=as_int(self.quality, "quality"),
                             threads=settings.default_threads(), file_suffix=suffix(self.file_suffix))
        fetcher = image_fetcher(self.fetch_deadline_s, self.opt_out_directives)
        stats = download_shard(storage, root, ShardSpec.from_xcom(self.shard), cfg, fetcher)
        self.log.info("shard %s: %s images under %s (%s)", stats.shard_id, stats.ok, root.uri("images"), stats.counts)
        return shard_xcom(stats)


class SummarizeFlickrDownloadOperator(VisionflowOperator):
    """Totals of every shard manifest, and the images' ``file_suffix``, into
    ``_work/flickr_download/<stem>/summary.json``."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shards", "subset", "file_suffix")

    def __init__(self, *, shards: Any, subset: str, file_suffix: Any = "", **kwargs):
        super().__init__(**kwargs)
        self.shards, self.subset, self.file_suffix = shards, subset, file_suffix

    def run(self, context) -> dict:
        from include.visionflow.datasets.flickr import summarize_download

        specs = shard_specs(self.shards)
        summary = summarize_download(self.storage(), specs, str(self.subset), suffix(self.file_suffix))
        self.log.info("%s: %s", self.subset, summary["counts"])
        return summary


class ConvertFlickrMemmapOperator(VisionflowOperator):
    """``lists/<subset stem>.memmap``: S120 ``local_file`` entries in list order (fails on a path > 120 bytes)."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "subset")

    def __init__(self, *, subset: str, **kwargs):
        super().__init__(**kwargs)
        self.subset = subset

    def run(self, context) -> dict:
        from include.visionflow.datasets.flickr import convert_to_mmap

        result = convert_to_mmap(self.storage(), str(self.subset))
        self.log.info("wrote %s (%s entries, %s)", result["memmap"], result["count"], result["dtype"])
        return result
