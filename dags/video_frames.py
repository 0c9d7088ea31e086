"""
### Video frames at a fixed rate (Kinetics-400, Krishna-CAM)

Converts every video under `video_dir` (recursively; `.mp4 .avi .mkv .mov .webm .m4v`) to JPEG frames at `fps`
(constant rate by timestamps, frames dropped or repeated like `ffmpeg -r 10`), written to
`<frames_dir>/<relative path without extension>/` and named by `pattern` from 1 (`00001.jpg`, ...). The short
side is scaled to `short_side` only when it is larger: videos are never upscaled. Portrait videos and videos
with a rotation flag come out upright.

Relative folders are kept, so `a/clip.mp4` and `b/clip.mp4` stay apart (the upstream script flattened them
to `clip/`); folder names get spaces replaced by `_`. The file list (`filelist`, default
`<frames_dir>/filelist.txt`; a relative path is inside `frames_dir`) has one `<relative dir> <nframes>` line
per video. Undecodable videos are reported in the shard manifests (`<frames_dir>/_work/video_frames/<run>/`),
never fatal; reruns skip finished videos. Unscheduled (`schedule=None`): trigger it.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.operators.video import (
    ExtractVideoFramesOperator,
    PlanVideoFramesOperator,
    WriteVideoFramesListOperator,
)

with DAG(
    dag_id="video_frames",
    schedule=None,
    start_date=pendulum.datetime(2022, 10, 23, tz="UTC"),
    catchup=False,
    params={
        "video_dir": Param("data/videos", type="string", minLength=1, title="Video folder",
                           description="Local folder searched recursively for videos."),
        "frames_dir": Param("data/video_frames", type="string", minLength=1, title="Frames folder",
                            description="Output root: local folder or s3://bucket/prefix."),
        "fps": Param(10, type="number", exclusiveMinimum=0, maximum=240, title="Frames per second",
                     description="Constant output rate (10 in the paper)."),
        "short_side": Param(256, type="integer", minimum=16, maximum=4096, title="Short side",
                            description="Scale the short side down to this; smaller videos keep their size."),
        "pattern": Param("%05d.jpg", type="string", minLength=4, title="Frame names",
                         description="printf pattern with one integer field, numbered from 1."),
        "quality": Param(90, type="integer", minimum=1, maximum=100, title="JPEG quality",
                         description="JPEG quality of the frames."),
        "filelist": Param("", type="string", title="File list",
                          description="Where to write '<relative dir> <nframes>' lines: a path inside "
                          "frames_dir or an absolute local path. Empty: filelist.txt in frames_dir."),
    },
    **dag_kwargs(__doc__, ["video", "frames"]),
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
