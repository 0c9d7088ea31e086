"""
### Kinetics-400/600/700 (mmaction2 layout)

Prepares Kinetics as mmaction2's `tools/data/kinetics` scripts do, in one run:

1. **annotations** — the DeepMind tarball (or `annotations_url`: a tar.gz, or a folder with `train.csv`,
   `validate.csv`, `test.csv`) → `annotations/kinetics_{train,val,test}.csv`; **plan** cuts the `splits` into
   shards (`limit` rows per split for trials).
2. **clips** (mapped over shards) — each row's video from `video_source` (`youtube` via yt-dlp when installed,
   `url_template` such as `http://host/{youtube_id}.mp4`, or `local_dir` holding `<youtube_id>.<ext>`), trimmed to
   `[time_start, time_end)` as H.264: `videos_<split>/<label_with_underscores>/<ytid>_<%06d start>_<%06d end>.mp4`.
   Existing valid clips are skipped.
3. **dense** (if `dense`) — `videos_<split>_<short_side>p_dense_cache/`, short side `short_side` for portrait and
   landscape alike, a key frame every 16 frames.
4. **rawframes** (if `frames`) — `rawframes_<split>/<class>/<clip stem>/img_%05d.jpg`, every frame, short side
   `short_side`, JPEG q95.
5. **file_lists** — `<dataset>_<split>_list_videos.txt` (`class/file.mp4 label`) and
   `<dataset>_<split>_list_rawframes.txt` (`class/stem nframes label`); labels number the sorted train classes,
   lines are shuffled with `seed` (`label_map.txt` lists the classes in label order).
6. **download_report** — `download_report.json` lists every failed clip with a reason code (`http_404`,
   `bad_time_range`, `unreadable_video`, ...); `summary.json` counts each stage.

Dead links, bad rows and undecodable videos are counted, never fatal. Per-shard manifests live in
`<output_root>/_work/kinetics/<run>/`. `output_root` defaults to `data/<dataset>` and may be `s3://bucket/prefix`
(connection `aws_default`). Unscheduled (`schedule=None`): trigger it.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow.common import dag_kwargs, fail_run_when_a_step_failed
from visionflow_airflow.operators.video import (
    ExtractKineticsRawframesOperator,
    FetchKineticsAnnotationsOperator,
    MakeKineticsClipsOperator,
    PlanKineticsClipsOperator,
    ReportKineticsOperator,
    ResizeKineticsClipsOperator,
    WriteKineticsListsOperator,
)

with DAG(
    dag_id="kinetics",
    schedule=None,
    start_date=pendulum.datetime(2017, 5, 19, tz="UTC"),
    catchup=False,
    params={
        "dataset": Param("kinetics400", type="string", enum=["kinetics400", "kinetics600", "kinetics700"],
                         title="Dataset", description="Which Kinetics release; also names the lists and the "
                         "default output folder."),
        "annotations_url": Param("", type="string", title="Annotations",
                                 description="A tar.gz with train/validate/test CSVs, or a folder (URL ending in / "
                                 "or local path) holding them. Empty: the official DeepMind tarball."),
        "video_source": Param("youtube", type="string", enum=["youtube", "url_template", "local_dir"],
                              title="Video source",
                              description="youtube: yt-dlp (when installed and reachable); url_template: the "
                              "URL below; local_dir: raw full videos named <youtube_id>.<ext>."),
        "url_template": Param("", type="string", title="URL template",
                              description="For url_template: e.g. http://host/{youtube_id}.mp4"),
        "local_dir": Param("", type="string", title="Local folder",
                           description="For local_dir: the folder of <youtube_id>.<ext> raw videos."),
        "splits": Param(["train", "val"], type="array", minItems=1,
                        items={"type": "string", "enum": ["train", "val", "test"]}, title="Splits",
                        description="Splits to prepare (validate.csv is the val split)."),
        "output_root": Param("", type="string", title="Output root",
                             description="Local folder or s3://bucket/prefix. Empty: data/<dataset>."),
        "short_side": Param(256, type="integer", minimum=16, maximum=4096, title="Short side",
                            description="Short side in pixels of the dense cache and the raw frames."),
        "dense": Param(True, type="boolean", title="Dense cache",
                       description="Build videos_<split>_<N>p_dense_cache (key frame every 16 frames)."),
        "frames": Param(True, type="boolean", title="Raw frames",
                        description="Extract rawframes_<split>/<class>/<clip>/img_%05d.jpg (every frame)."),
        "limit": Param(None, type=["null", "integer"], minimum=1, title="Limit",
                       description="At most this many clips per split (trials); empty for all."),
        "seed": Param(0, type="integer", title="Shuffle seed",
                      description="Seed of the file-list shuffle (recorded in summary.json)."),
    },
    **dag_kwargs(__doc__, ["kinetics", "video", "mmaction2"]),
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
