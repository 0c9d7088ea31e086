"""Kinetics-400/600/700 (mmaction2 layout).

Params, outputs, examples: ``docs/kinetics.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs, fail_run_when_a_step_failed
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.video import (
    ExtractKineticsRawframesOperator,
    FetchKineticsAnnotationsOperator,
    MakeKineticsClipsOperator,
    PlanKineticsClipsOperator,
    ReportKineticsOperator,
    ResizeKineticsClipsOperator,
    WriteKineticsListsOperator,
)
from visionflow_airflow.operators.report import WriteRunReportOperator

with DAG(
    dag_id="kinetics",
    description="Kinetics-400/600/700 in the mmaction2 layout: trimmed clips, dense cache, raw frames, lists",
    schedule=None,
    start_date=pendulum.datetime(2017, 5, 19, tz="UTC"),
    catchup=False,
    params=p.with_deployment_defaults("kinetics", {
        "dataset": Param("kinetics400", type="string", enum=["kinetics400", "kinetics600", "kinetics700"],
                         title="Dataset", description="Which Kinetics release; also names the lists and the "
                         "default output folder."),
        "annotations_url": Param("", type="string", pattern=p.optional(p.URL_OR_PATH), title="Annotations",
                                 description="A tar.gz with train/validate/test CSVs, or a folder (URL ending in / "
                                 "or local path) holding them. Empty: the official DeepMind tarball."),
        "video_source": Param("youtube", type="string", enum=["youtube", "url_template", "local_dir"],
                              title="Video source",
                              description="youtube: yt-dlp (when installed and reachable); url_template: the "
                              "URL below; local_dir: raw full videos named <youtube_id>.<ext>."),
        "url_template": Param("", type="string", pattern=r"^(https?://\S*\{youtube_id\}\S*|)$",
                              title="URL template",
                              description="For url_template: e.g. http://host/{youtube_id}.mp4"),
        "local_dir": Param("", type="string", title="Local folder",
                           description="For local_dir: the folder of <youtube_id>.<ext> raw videos."),
        "splits": Param(["train", "val"], type="array", minItems=1,
                        items={"type": "string", "enum": ["train", "val", "test"]}, title="Splits",
                        description="Splits to prepare (validate.csv is the val split)."),
        "output_root": p.output_root("", allow_empty=True, title="Output root",
                                     description="Local folder or s3://bucket/prefix. Empty: data/<dataset>."),
        "short_side": p.integer(256, 16, 4096, title="Short side",
                            description="Short side in pixels of the dense cache and the raw frames."),
        "dense": Param(True, type="boolean", title="Dense cache",
                       description="Build videos_<split>_<N>p_dense_cache (key frame every 16 frames)."),
        "frames": Param(True, type="boolean", title="Raw frames",
                        description="Extract rawframes_<split>/<class>/<clip>/img_%05d.jpg (every frame)."),
        "limit": p.integer(None, 1, title="Limit",
                       description="At most this many clips per split (trials); empty for all."),
        "seed": Param(0, type="integer", title="Shuffle seed",
                      description="Seed of the file-list shuffle (recorded in summary.json)."),
    }),
    **dag_kwargs(dag_doc("kinetics", "kinetics"), ["kinetics", "video", "mmaction2"]),
) as dag:
    common = {"output_root": "{{ params.output_root or 'data/' ~ params.dataset }}", "dataset": "{{ params.dataset }}"}
    annotations = FetchKineticsAnnotationsOperator(
        task_id="annotations", annotations_url="{{ params.annotations_url }}", splits="{{ params.splits }}", **common,
    )
    plan = PlanKineticsClipsOperator(task_id="plan", splits="{{ params.splits }}", limit="{{ params.limit }}",
                                     **common)
    clips = MakeKineticsClipsOperator.partial(
        task_id="clips", video_source="{{ params.video_source }}", url_template="{{ params.url_template }}",
        local_dir="{{ params.local_dir }}", max_active_tis_per_dag=2, **common,
    ).expand(shard=plan.output)
    dense = ResizeKineticsClipsOperator.partial(
        task_id="dense", short_side="{{ params.short_side }}", enabled="{{ params.dense }}",
        max_active_tis_per_dag=2, **common,
    ).expand(shard=plan.output)
    rawframes = ExtractKineticsRawframesOperator.partial(
        task_id="rawframes", short_side="{{ params.short_side }}", enabled="{{ params.frames }}",
        max_active_tis_per_dag=2, **common,
    ).expand(shard=plan.output)
    lists = WriteKineticsListsOperator(task_id="file_lists", shards=plan.output, seed="{{ params.seed }}",
                                       trigger_rule="none_failed", **common)
    report = ReportKineticsOperator(task_id="download_report", shards=plan.output, seed="{{ params.seed }}",
                                    trigger_rule="all_done", **common)
    annotations >> plan >> clips >> [dense, rawframes] >> lists >> report
    fail_run_when_a_step_failed(dag)
    report >> WriteRunReportOperator(task_id="run_report", family="kinetics", output_root=common["output_root"],
                                     options={"dataset": "{{ params.dataset }}"}).as_teardown()
