"""OpenImages V4 (PRIMO split).

Params, outputs, examples: ``docs/openimages.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.openimages import (
    DownloadOpenImagesShardOperator,
    FetchOpenImagesMetadataOperator,
    ListOpenImagesTarballsOperator,
    PlanOpenImagesShardsOperator,
    SummarizeOpenImagesOperator,
    SyncOpenImagesTarballOperator,
)
from visionflow_airflow.operators.report import WriteRunReportOperator

OPENIMAGES_2018 = "https://storage.googleapis.com/openimages/2018_04"

with DAG(
    dag_id="openimages_v4",
    description="OpenImages V4 (PRIMO split): verified, thumbnailed images per split, CVDF tarballs as zips",
    schedule=None,
    start_date=pendulum.datetime(2018, 4, 30, tz="UTC"),
    catchup=False,
    params=p.with_deployment_defaults("openimages_v4", {
        "metadata_url": p.url_or_path(f"{OPENIMAGES_2018}/image_ids_and_rotation.csv", title="Metadata CSV",
                              description="The full image_ids_and_rotation.csv (URL or local path)."),
        "boxable_url": p.url_or_path(f"{OPENIMAGES_2018}/train/train-images-boxable-with-rotation.csv",
                                     title="Boxable CSV",
                             description="train-images-boxable-with-rotation.csv: its ids are the target set."),
        "output_root": p.output_root("data/open_images", title="Output root"),
        "splits": Param(["train", "extended_targets"], type="array",
                        items={"type": "string", "enum": ["train", "extended_targets"]}, minItems=1,
                        title="Splits to download", description="URL-downloaded splits."),
        "train_size": p.integer(1200000, 0, title="Train size",
                            description="First N non-target train rows form the train split."),
        "thumbnail_size": p.integer(1024, 16, 16384, title="Thumbnail size",
                                description="Longer side in pixels; smaller images are kept as they are."),
        "tarballs": Param(False, type="boolean", title="Sync CVDF tarballs",
                          description="Sync train_*.tar.gz and validation.tar.gz and convert them to zips."),
        "tarball_glob": Param(["train_*.tar.gz", "validation.tar.gz"], type="array", items={"type": "string"},
                              title="Tarball globs", description="Which tarballs under tar/ to sync."),
        "parallelism": Param(4, type="integer", minimum=1, maximum=400, title="Parallelism",
                             description="At least this many download shards per split when there are rows "
                                         "enough: set it to the worker slots you have (Celery workers x "
                                         "concurrency), so a small input still uses every worker."),
        "min_shard_rows": Param(1000, type="integer", minimum=1, title="Rows per shard",
                                description="Rows per download shard, unless that leaves fewer shards than "
                                            "parallelism; a split is cut into at most 400 // splits shards."),
        "fetch_deadline_s": Param(120, type="integer", minimum=5, maximum=3600, title="Fetch deadline (s)",
                                  description="Total time for one image: every connect, read and retry. "
                                              "A slower image ends with reason timeout."),
        "opt_out_directives": Param(["noai", "noimageai", "noindex", "noimageindex"], type="array",
                                    items={"type": "string", "pattern": "^[a-z][a-z_-]*$"},
                                    title="Opt-out directives",
                                    description="X-Robots-Tag directives (for all agents or visionflow) that "
                                                "make an image be skipped as opted_out. Empty: store all."),
        "refresh_metadata": Param(False, type="boolean", title="Refresh metadata",
                                  description="Download the metadata CSVs again even if present."),
    }),
    **dag_kwargs(dag_doc("openimages", "openimages_v4"), ["openimages", "images"]),
) as dag:
    root = "{{ params.output_root }}"
    metadata = FetchOpenImagesMetadataOperator(
        task_id="fetch_metadata", metadata_url="{{ params.metadata_url }}", boxable_url="{{ params.boxable_url }}",
        output_root=root, refresh="{{ params.refresh_metadata }}",
    )
    plan = PlanOpenImagesShardsOperator(
        task_id="plan_shards", output_root=root, splits="{{ params.splits }}", train_size="{{ params.train_size }}",
        min_shard="{{ params.min_shard_rows }}", parallelism="{{ params.parallelism }}",
    )
    download = DownloadOpenImagesShardOperator.partial(
        task_id="download", output_root=root, thumbnail_size="{{ params.thumbnail_size }}",
        fetch_deadline_s="{{ params.fetch_deadline_s }}", opt_out_directives="{{ params.opt_out_directives }}",
        max_active_tis_per_dag=4,
    ).expand(shard=plan.output)
    tarballs = ListOpenImagesTarballsOperator(
        task_id="list_tarballs", tarballs="{{ params.tarballs }}", tarball_glob="{{ params.tarball_glob }}",
    )
    sync = SyncOpenImagesTarballOperator.partial(task_id="sync_tarball", output_root=root).expand(
        key=tarballs.output
    )
    summary = SummarizeOpenImagesOperator(
        task_id="summarize", shards=plan.output, output_root=root, trigger_rule="none_failed",
    )
    metadata >> plan >> download >> summary
    tarballs >> sync >> summary
    # A teardown: written whatever happened upstream, without deciding the run's state.
    summary >> WriteRunReportOperator(task_id="report", family="openimages", output_root=root).as_teardown()
