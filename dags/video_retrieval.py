"""AdaCLIP video retrieval: frames and annotation splits (MSRVTT, DiDeMo, ActivityNet Captions).

Params, outputs, examples: ``docs/video_retrieval.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs, fail_run_when_a_step_failed
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.report import WriteRunReportOperator
from visionflow_airflow.operators.xtune_video import (
    ExtractRetrievalFramesOperator,
    FetchRetrievalVideosOperator,
    PlanRetrievalFramesOperator,
    ReportRetrievalOperator,
    RetrievalAnnotationsOperator,
)

with DAG(
    dag_id="video_retrieval",
    description="AdaCLIP video retrieval: JPEG frames and annotation splits for MSRVTT, DiDeMo or ActivityNet",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "dataset": Param("msrvtt", type="string", enum=["msrvtt", "didemo", "activitynet"], title="Dataset",
                         description="Which AdaCLIP dataset: names the annots/ folder and picks the formats."),
        "videos_url": Param("", type="string", title="Videos archive",
                            description="URL or local path of a zip/tar of videos (e.g. MSRVTT.zip), unpacked "
                            "flat. Empty: use videos_dir."),
        "videos_dir": Param("", type="string", title="Videos folder",
                            description="Local folder of the videos (searched recursively); with videos_url, "
                            "where to unpack them (empty: <data_root>/videos/<dataset>)."),
        "annotations_url": Param("", type="string", title="Annotations",
                                 description="URL or local path of the raw annotations: a zip, a folder, or a "
                                 "URL ending in /. Empty: the official source of the dataset."),
        "splits_url": Param("", type="string", title="DiDeMo split lists",
                            description="DiDeMo only: folder (URL ending in / or local) with Collaborative "
                            "Experts' {train,val,test}_list.txt. Empty: the GitHub folder."),
        "data_root": p.output_root("data/adaclip", title="Data root",
                                   description="Where annots/<dataset>/ and reports/ go: local folder or s3://."),
        "frames_dir": p.output_root("", allow_empty=True, title="Frames folder",
                                    description="Output root of the frames: local or s3://. Empty: "
                                    "<data_root>/frames/<dataset>."),
        "frame_rate": Param(-1, type="number", minimum=-1, maximum=240, title="Frame rate",
                            description="Frames per second like ffmpeg -r; -1 keeps the native rate."),
        "frame_size": Param(-1, type="integer", minimum=-1, maximum=4096, title="Frame size",
                            description="Short side in pixels, only ever scaled down; -1 keeps the size."),
    },
    **dag_kwargs(dag_doc("video_retrieval", "video_retrieval"), ["video", "frames", "xtune", "adaclip"]),
) as dag:
    roots = {"dataset": "{{ params.dataset }}", "data_root": "{{ params.data_root }}"}
    videos = FetchRetrievalVideosOperator(task_id="videos", videos_url="{{ params.videos_url }}",
                                          videos_dir="{{ params.videos_dir }}", **roots)
    annotations = RetrievalAnnotationsOperator(
        task_id="annotations", videos_dir=videos.output, annotations_url="{{ params.annotations_url }}",
        splits_url="{{ params.splits_url }}", **roots)
    frames_root = {**roots, "frames_dir": "{{ params.frames_dir }}"}
    plan = PlanRetrievalFramesOperator(task_id="plan", videos_dir=videos.output, **frames_root)
    extract = ExtractRetrievalFramesOperator.partial(
        task_id="frames", frame_rate="{{ params.frame_rate }}", frame_size="{{ params.frame_size }}",
        max_active_tis_per_dag=2, **frames_root,
    ).expand(shard=plan.output)
    # all_done: the report also says what a failed shard lost; the watcher below still fails such a run.
    report = ReportRetrievalOperator(task_id="report", shards=plan.output, trigger_rule="all_done",
                                     **frames_root)
    [annotations, extract] >> report
    fail_run_when_a_step_failed(dag)
    # After the watcher, so a report that cannot be drawn never fails the run (a teardown neither).
    report >> WriteRunReportOperator(
        task_id="run_report", family="video_retrieval", output_root="{{ params.data_root }}",
        options={"dataset": "{{ params.dataset }}"},
        images_root="{{ params.frames_dir or params.data_root.rstrip('/') ~ '/frames/' ~ params.dataset }}",
    ).as_teardown()
