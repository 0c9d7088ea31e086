"""Reports of the TrackVerse and AdaCLIP video-retrieval runs (registered in :mod:`.families`)."""
from __future__ import annotations

import logging
from collections import Counter

from include.visionflow.errors import ItemError
from include.visionflow.report import cards
from include.visionflow.report.card import Card, write_card
from include.visionflow.report.data import collect_work, read_rows
from include.visionflow.report.plots import Bars, Histogram
from include.visionflow.report.publish import TOP_CLASSES, frame_strips, publish, read_json, spread, top
from include.visionflow.shards import work_rel
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

PROBED_VIDEOS = 200  # durations come from opening each video: a sample, evenly spread, is enough for the shape


def _subset_loading(domain: str, record_format: str) -> str:
    """How to read the subsets, in the field set the run wrote them (tracking.records)."""
    subset = f"tracks_subsets/{domain}/<name>.jsonl.gzip"
    if str(record_format) == "2024":  # a templated "2024" is rendered as a number
        return ("Subsets are in the **2024** record format, the v1 pipeline's fields (`record_format=2024`), "
                "for code of TrackVerse's 2024 pipeline (its `download_tracks.py` reads `fn` and `track_bbox`):"
                "\n```python\nimport gzip, json\nfor line in gzip.open("
                f"'{subset}', 'rt'):\n    rec = json.loads(line)\n    clip = 'tracks_mp4/{domain}/' + rec['fn']\n"
                "    # track_ts, track_bbox (x, y, w, h px) per frame; top10_lbl: indices into the detector's "
                "classes; top10_desc: their names\n```")
    return ("Subsets are in the **release** record format (the default, `record_format=release`): the fields "
            "of TrackVerse's 2025 release, which its current loader (`download_tracks.py` on MMPLab/TrackVerse "
            "`main`) reads; `record_format=2024` writes the v1 pipeline's `fn`/`track_bbox` fields instead."
            "\n```python\nimport gzip, json\nfor line in gzip.open("
            f"'{subset}', 'rt'):\n    rec = json.loads(line)\n    clip = 'tracks_mp4/' + rec['track_mp4_filename']\n"
            "    # frame_ts and frame_bboxes (x, y, w, h px) per frame; track_ts = [start, end];\n"
            "    # top10_label_ids: indices into the detector's classes; top10_label_names: their names\n```")


def trackverse_card(domain: str, record_format: str = "release") -> Card:
    return Card(
        title=f"TrackVerse ({domain})",
        what="Object tracks from videos, as TrackVerse (MMPLab) builds them: scene segments kept by the "
             "content filters, tracks of the detector's classes (ByteTrack), one clip per track and curated "
             "subsets.",
        source="The YouTube ids of the run's `yid_index` (HD-VILA style), videos from YouTube or a mirror.",
        licence="The videos and the clips cut from them belong to their YouTube uploaders and are governed by "
                "YouTube's terms: use them for research and do not redistribute them. Faces are blurred in "
                "`videos_blurred/` and the clips when `blur_faces` was on. Cite TrackVerse when you use it.",
        loading=_subset_loading(domain, record_format) + "\n\nThe per-video files "
                f"`tracks_meta/{domain}/<yid[:2]>/<yid>-meta.jsonl.gzip` keep the pipeline's own layout (`yid`, "
                "`fn`, `track_ts`, `track_bbox`, `top10_lbl` as class names, `top10_desc`), whatever the "
                "subsets' format; `summary.json` records the `record_format`.",
        lists=[f"tracks_subsets/{domain}/", "summary.json"],
        layout="`videos_mp4/`, `videos_blurred/`, `videos_segm/` (scenes, kept segments, filter scores), "
               f"`tracks_meta/{domain}/`, `tracks_mp4/{domain}/`, `tracks_subsets/{domain}/`.",
    )


def write_trackverse_card(storage: Storage, domain: str = "faces", record_format: str = "release") -> str:
    """The dataset card ``README.md``, its file table read once summary.json and the subsets are written."""
    return write_card(storage, trackverse_card(domain, record_format))


def _segment_plots(storage: Storage, yids: list[str]) -> tuple[list, int]:
    """The segment histograms, and how many segments the filters kept in all."""
    from include.visionflow.datasets import trackverse as tv

    per_video, lengths, scenes = [], [], []
    for yid in yids:
        if storage.exists(tv.scenes_rel(yid)):
            scenes.append(len(storage.read_text(tv.scenes_rel(yid)).split()))
        if storage.exists(tv.segments_rel(yid)):
            kept = tv.read_segments(storage, yid)
            per_video.append(len(kept))
            lengths += [end - start for start, end in kept]
    return [Histogram("Scenes detected per video", scenes, "scenes"),
            Histogram("Segments kept per video (after the filters)", per_video, "segments"),
            Histogram("Length of kept segments", lengths, "seconds")], sum(per_video)


def trackverse(storage: Storage, run_id: str, domain: str = "faces") -> str:
    from include.visionflow.datasets import trackverse as tv
    from include.visionflow.report.track_samples import blur_pairs, tracked_boxes
    from include.visionflow.tracking.meta import read_records

    run = collect_work(storage, work_rel("trackverse", run_id))
    records = [rec for r in run.ok() if r["group"] == "tracks" and r.get("output")
               for rec in read_records(storage, r["output"])]
    classes = Counter((rec.get("top10_desc") or ["?"])[0] for rec in records)
    yids = sorted({r["key"] for r in run.ok() if r["group"] == "filters"})
    segment_plots, segments_kept = _segment_plots(storage, yids)
    # From the run's manifests, not summary.json: the report runs beside ``curate``, which writes that file
    # (one level less on the run's critical path); both count the same rows.
    summary = {"videos": len({r["key"] for r in run.rows if r["group"] == "download"}),
               "segments_kept": segments_kept, "tracks": len(records), "classes": len(classes)}
    plots = [Bars(f"Tracks per class ({top(classes)})", dict(classes.most_common(TOP_CLASSES)), "tracks",
                  colours={k: "#1565c0" for k in classes}),
             Histogram("Track length", [rec["track_ts"][-1] - rec["track_ts"][0] for rec in records
                                        if rec.get("track_ts")], "seconds"),
             *segment_plots]
    samples = [tracked_boxes(storage, records, tv.video_rel),
               blur_pairs(storage, records, tv.video_rel, tv.blurred_rel)]
    # No card here: it lists summary.json and the subsets, which ``curate``, running beside this report, may
    # not have written yet; ``curate`` writes it after them (write_trackverse_card).
    return publish(storage, f"TrackVerse ({domain}) — run {run_id}", run_id, "trackverse", None,
                   run=run, summary=summary, extra_plots=plots, samples=samples)


def _durations(frames: Storage, work: str) -> tuple[list[float], int]:
    """Durations of up to :data:`PROBED_VIDEOS` of the run's videos (from the plan's shard rows), and how
    many videos there were."""
    from include.visionflow.datasets.activitynet_qa import video_duration

    sources = [row["src"] for key in sorted(frames.list(f"{work}/shards")) if key.endswith(".parquet")
               for row in read_rows(frames, key) if row.get("src") and not row.get("error")]
    seconds = []
    for src in spread(sources, PROBED_VIDEOS):
        try:
            seconds.append(video_duration(src)[0])
        except (ItemError, OSError) as err:  # an unreadable video is in the failed table already
            log.info("report: no duration for %s: %s", src, err)
    return seconds, len(sources)


def video_retrieval(storage: Storage, run_id: str, dataset: str, images: Storage) -> str:
    """``storage``: the data root (annotations, the JSON report); ``images``: the frames root."""
    work = work_rel("video_retrieval", run_id)
    run = collect_work(images, work)
    report = read_json(storage, f"reports/video_retrieval_{dataset}.json")
    summary = {k: v for k, v in report.items() if k in ("dataset", "frames_dir", "frames")}
    for split, annotated in report.get("annotated", {}).items():
        summary[f"{split}: annotated videos"] = annotated.get("videos")
        summary[f"{split}: annotated, without frames (first 20)"] = len(annotated.get("without_frames", []))
    seconds, videos = _durations(images, work)
    folders = [r["output"] for r in run.ok() if r.get("output")]
    return publish(storage, f"AdaCLIP {dataset} frames — run {run_id}", run_id, "video_retrieval",
                   cards.adaclip(dataset, images.uri("").rstrip("/")),
                   latest=f"report-video_retrieval-{dataset}.html", also_wrote=(images,), run=run, summary=summary,
                   extra_plots=[Histogram(f"Video duration ({len(seconds)} of {videos} videos)", seconds, "seconds")],
                   samples=[frame_strips(images, spread(folders, 4), "Frame strips of sampled videos")])
