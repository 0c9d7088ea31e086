"""Video frames at a fixed rate (Kinetics-400, Krishna-CAM).

Params, outputs, examples: ``docs/video_frames.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.video import (
    ExtractVideoFramesOperator,
    PlanVideoFramesOperator,
    WriteVideoFramesListOperator,
)
from visionflow_airflow.operators.report import WriteRunReportOperator

with DAG(
    dag_id="video_frames",
    description="JPEG frames at a fixed rate from every video of a folder, plus a '<dir> <nframes>' list",
    schedule=None,
    start_date=pendulum.datetime(2022, 10, 23, tz="UTC"),
    catchup=False,
    params=p.with_deployment_defaults("video_frames", {
        "video_dir": Param("data/videos", type="string", minLength=1, title="Video folder",
                           description="Local folder searched recursively for videos."),
        "frames_dir": p.output_root("data/video_frames", title="Frames folder",
                                    description="Output root: local folder or s3://bucket/prefix."),
        "fps": Param(10, type="number", exclusiveMinimum=0, maximum=240, title="Frames per second",
                     description="Constant output rate (10 in the paper)."),
        "short_side": p.integer(256, 16, 4096, title="Short side",
                            description="Scale the short side down to this; smaller videos keep their size."),
        "pattern": Param("%05d.jpg", type="string", minLength=4, title="Frame names",
                         description="printf pattern with one integer field, numbered from 1."),
        "quality": p.integer(90, 1, 100, title="JPEG quality",
                         description="JPEG quality of the frames."),
        "filelist": Param("", type="string", title="File list",
                          description="Where to write '<relative dir> <nframes>' lines: a path inside "
                          "frames_dir or an absolute local path. Empty: filelist.txt in frames_dir."),
    }),
    **dag_kwargs(dag_doc("video_frames", "video_frames"), ["video", "frames"]),
) as dag:
    # the frames folder is where this family writes: its output root
    folders = {"video_dir": "{{ params.video_dir }}", "output_root": "{{ params.frames_dir }}"}
    plan = PlanVideoFramesOperator(task_id="plan", **folders)
    extract = ExtractVideoFramesOperator.partial(
        task_id="extract", fps="{{ params.fps }}", short_side="{{ params.short_side }}",
        pattern="{{ params.pattern }}", quality="{{ params.quality }}", max_active_tis_per_dag=2, **folders,
    ).expand(shard=plan.output)
    # none_failed: a folder without videos maps to nothing, and still gets its (empty) list.
    filelist = WriteVideoFramesListOperator(task_id="filelist", shards=plan.output, trigger_rule="none_failed",
                                            output_root="{{ params.frames_dir }}", filelist="{{ params.filelist }}")
    plan >> extract >> filelist
    filelist >> WriteRunReportOperator(task_id="report", family="video_frames",
                                       output_root="{{ params.frames_dir }}").as_teardown()
