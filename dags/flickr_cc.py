"""Flickr-CC ("The Challenges of Continuous Self-Supervised Learning", ECCV'22).

Params, outputs, examples: ``docs/flickr_cc.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, AssetAlias, CronDataIntervalTimetable, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.flickr import (
    ASSET_ALIAS,
    BuildFlickrSubsetsOperator,
    ConvertFlickrMemmapOperator,
    CrawlFlickrDayOperator,
    DownloadFlickrShardOperator,
    PlanFlickrDownloadOperator,
    SummarizeFlickrDownloadOperator,
)
from visionflow_airflow.operators.report import WriteRunReportOperator

POOL = "flickr_api"
OUTPUT_ROOT = p.output_root("data/flickr_cc", title="Output root",
                            description="Local folder or s3://bucket/prefix holding meta/, lists/ and images/.")
DEFAULT_SIZES = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]

with DAG(
    dag_id="flickr_cc_crawl",
    description="Flickr-CC: every CC-licensed photo uploaded on one UTC day, as an Openverse TSV (daily)",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2004, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=1,
    params=p.with_deployment_defaults("flickr_cc_crawl", {
        "date": p.date(None, title="Day (UTC)",
                      description="YYYY-MM-DD to crawl; empty = the run's data interval (scheduled and backfill "
                                  "runs), or yesterday for a manual run without a logical date."),
        "reprocess": Param(False, type="boolean", title="Reprocess",
                           description="Crawl the day again even if it has a done marker."),
        "strategy": Param("walk", type="string", enum=["walk", "plan"], title="Slicing strategy",
                          description="walk: continue capped queries from their last upload time (fewest "
                                      "requests); plan: Openverse-style slices from count probes."),
        "output_root": OUTPUT_ROOT,
    }),
    **dag_kwargs(dag_doc("flickr_cc", "flickr_cc_crawl"), ["flickr", "images", "crawl"]),
) as crawl_dag:
    crawl = CrawlFlickrDayOperator(
        task_id="crawl_day", output_root="{{ params.output_root }}", date="{{ params.date }}",
        reprocess="{{ params.reprocess }}", strategy="{{ params.strategy }}", pool=POOL,
        outlets=[AssetAlias(ASSET_ALIAS)],
    )
    crawl >> WriteRunReportOperator(
        task_id="report", family="flickr_crawl", output_root="{{ params.output_root }}",
        options={"day": "{{ (ti.xcom_pull(task_ids='crawl_day') or {}).get('day', '') }}"},
    ).as_teardown()

with DAG(
    dag_id="flickr_cc_subsets",
    description="Flickr-CC: one shuffled list of every crawled photo and nested subsets (flickr-100k, -1M, ...)",
    schedule=None,
    start_date=pendulum.datetime(2004, 1, 1, tz="UTC"),
    catchup=False,
    params=p.with_deployment_defaults("flickr_cc_subsets", {
        "sizes": Param(DEFAULT_SIZES, type="array", items={"type": "number", "exclusiveMinimum": 0},
                       title="Subset sizes (millions)",
                       description="Nested prefix subsets flickr-<N>M.tsv.gz; sizes not below the total are "
                                   "skipped (the full list is flickr.tsv.gz)."),
        "seed": p.integer(0, 0, title="Shuffle seed",
                      description="Same crawl + same seed = byte-identical lists."),
        "output_root": OUTPUT_ROOT,
    }),
    **dag_kwargs(dag_doc("flickr_cc", "flickr_cc_subsets"), ["flickr", "images", "lists"]),
) as subsets_dag:
    subsets = BuildFlickrSubsetsOperator(
        task_id="build_subsets", output_root="{{ params.output_root }}", sizes="{{ params.sizes }}",
        seed="{{ params.seed }}",
    )
    subsets >> WriteRunReportOperator(task_id="report", family="flickr_subsets",
                                      output_root="{{ params.output_root }}").as_teardown()

with DAG(
    dag_id="flickr_cc_download",
    description="Flickr-CC: download a list's images (short side resized) and a memmap of their paths",
    schedule=None,
    start_date=pendulum.datetime(2004, 1, 1, tz="UTC"),
    catchup=False,
    params=p.with_deployment_defaults("flickr_cc_download", {
        "subset": Param("flickr-20M.tsv.gz", type="string", pattern=r"^[^/]+\.tsv(\.gz)?$", title="Subset",
                        description="List file name under <output_root>/lists/."),
        "root_dir": Param("", type="string", title="Image root",
                          description="Where images/<...> go (local or s3://); empty = output_root."),
        "short_side": p.integer(256, 16, 4096, title="Short side",
                            description="Images are scaled (up or down) so the shorter side has this size."),
        "parallelism": Param(4, type="integer", minimum=1, maximum=500, title="Parallelism",
                             description="At least this many download shards when the list is long enough: "
                                         "set it to the worker slots you have (Celery workers x concurrency)."),
        "min_shard_rows": Param(1000, type="integer", minimum=1, title="Rows per shard",
                                description="Lines per download shard, unless that leaves fewer shards than "
                                            "parallelism (at most 500 shards)."),
        "quality": p.integer(75, 1, 100, title="JPEG quality",
                         description="Quality of the stored JPEGs (75 is Pillow's default, as upstream)."),
        "fetch_deadline_s": Param(120, type="integer", minimum=5, maximum=3600, title="Fetch deadline (s)",
                                  description="Total time for one image: every connect, read and retry. "
                                              "A slower image ends with reason timeout."),
        "opt_out_directives": Param(["noai", "noimageai", "noindex", "noimageindex"], type="array",
                                    items={"type": "string", "pattern": "^[a-z][a-z_-]*$"},
                                    title="Opt-out directives",
                                    description="X-Robots-Tag directives (for all agents or visionflow) that "
                                                "make an image be skipped as opted_out. Empty: store all."),
        "file_suffix": Param("", type="string", pattern=r"^[A-Za-z0-9_-]{0,32}$", title="File name suffix",
                             description="Inserted before .jpg in every written image name. Empty: exactly "
                                         "local_file (upstream's downloader, visionflow's MemmapFileList). "
                                         "-256p: <name>-256p.jpg, the names the paper's MemMapImageListDataset "
                                         "opens. Lists and memmap keep local_file either way."),
        "output_root": OUTPUT_ROOT,
    }),
    **dag_kwargs(dag_doc("flickr_cc", "flickr_cc_download"), ["flickr", "images", "download"]),
) as download_dag:
    root = "{{ params.output_root }}"
    suffix = "{{ params.file_suffix }}"
    plan = PlanFlickrDownloadOperator(task_id="plan_shards", output_root=root, subset="{{ params.subset }}",
                                      min_shard="{{ params.min_shard_rows }}", parallelism="{{ params.parallelism }}",
                                      file_suffix=suffix)
    download = DownloadFlickrShardOperator.partial(
        task_id="download", output_root=root, root_dir="{{ params.root_dir }}",
        short_side="{{ params.short_side }}", quality="{{ params.quality }}", max_active_tis_per_dag=4,
        fetch_deadline_s="{{ params.fetch_deadline_s }}", opt_out_directives="{{ params.opt_out_directives }}",
        file_suffix=suffix,
    ).expand(shard=plan.output)
    summary = SummarizeFlickrDownloadOperator(
        task_id="summarize", shards=plan.output, output_root=root, subset="{{ params.subset }}", file_suffix=suffix,
    )
    memmap = ConvertFlickrMemmapOperator(task_id="convert_to_mmap", output_root=root,
                                         subset="{{ params.subset }}")
    plan >> download >> summary >> memmap
    memmap >> WriteRunReportOperator(task_id="report", family="flickr_download", output_root=root,
                                     images_root="{{ params.root_dir }}",
                                     options={"subset": "{{ params.subset }}"}).as_teardown()
