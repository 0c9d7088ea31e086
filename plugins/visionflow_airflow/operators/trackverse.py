"""TrackVerse operators: plan, the two per-shard tasks (steps 1-4, steps 5-6; mapped over shards), and the end
of the run (summary and curation). Each reads its templated arguments, calls the engine
(:mod:`include.visionflow.datasets.trackverse` for steps 1-4, :mod:`include.visionflow.datasets.trackverse_tracks`
for 5-7) and returns a small XCom."""
from __future__ import annotations

import re
from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, as_bool, as_int, is_set, shard_specs, shard_xcom


def work_key(run_id: str) -> str:
    return "_work/trackverse/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def _flag(value: Any) -> bool:
    return as_bool(value)


def _optional_float(value: Any) -> float | None:
    return float(value) if is_set(value) else None


class PlanTrackVerseOperator(VisionflowOperator):
    """Read ``yid_index`` (file or URL: ids one per line, or HD-VILA JSON/JSONL) and write shards of videos."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "yid_index", "limit", "videos_per_shard")

    def __init__(self, *, yid_index: str, limit: Any = None, videos_per_shard: Any = 10, **kwargs):
        super().__init__(**kwargs)
        self.yid_index, self.limit, self.videos_per_shard = yid_index, limit, videos_per_shard

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import trackverse

        specs = trackverse.plan(self.storage(), work_key(context["run_id"]), str(self.yid_index),
                                as_int(self.videos_per_shard, "videos_per_shard", 10),
                                as_int(self.limit, "limit"))
        return [spec.to_xcom() for spec in specs]


class TrackVerseShardOperator(VisionflowOperator):
    """Base of the per-shard steps: one shard of videos and the run's settings.

    :param settings: dict of the run's settings (video source, filters, scorers, face blurring); templated
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shard", "settings")

    def __init__(self, *, shard: Any, settings: Any, **kwargs):
        super().__init__(**kwargs)
        self.shard, self.settings = shard, settings


class ProcessTrackVerseVideosOperator(TrackVerseShardOperator):
    """Steps 1-4 over one shard, one after another: ``download``, ``segments``, ``filters`` and, when
    ``blur_faces`` is on, ``blur``.

    One task, not four: each step is seconds of work per short video, and an Airflow task costs about a second
    and a half to schedule and start (a process that loads the media stack), four times per shard. Every step
    still is its own stage of the shard runner (its own manifest rows, per-video outputs), so a retry skips
    finished steps and, within a step, finished videos. Returns ``{step: shard counts}``."""

    def config(self):
        from include.visionflow.datasets import trackverse
        from include.visionflow.models.scorers import ScorerSpec

        s = dict(self.settings or {})
        return trackverse.TrackVerseConfig(
            source=trackverse.video_source(s.get("video_source", "youtube"), s.get("url_template", ""),
                                           s.get("local_dir", "")),
            skip_cartoon_filter=_flag(s.get("skip_cartoon_filter", False)),
            skip_aesthetics_filter=_flag(s.get("skip_aesthetics_filter", False)),
            cartoon=ScorerSpec.parse(s.get("cartoon_scorer") or "colourfulness", "cartoon",
                                     _optional_float(s.get("cartoon_threshold"))),
            aesthetics=ScorerSpec.parse(s.get("aesthetics_scorer") or "exposure", "aesthetics",
                                        _optional_float(s.get("aesthetics_threshold"))),
            blur_faces=_flag(s.get("blur_faces", True)),
            face_threshold=float(s.get("face_threshold", 0.2)),
        )

    def run(self, context) -> dict:
        from include.visionflow.datasets import trackverse
        from include.visionflow.shards import ShardSpec

        config, storage, spec = self.config(), self.storage(), ShardSpec.from_xcom(self.shard)
        steps = [s for s in trackverse.STAGES if s != "blur" or config.blur_faces]
        if not config.blur_faces:
            self.log.info("blur_faces is off for this run: no blur step, later steps read videos_mp4")
        return {step: shard_xcom(trackverse.run_stage(storage, spec, step, config)) for step in steps}


def track_config(settings: dict):
    """The teammate engine's ``TrackConfig`` from the run's settings: only the fields it declares."""
    import dataclasses

    from include.visionflow.datasets.trackverse_tracks import TrackConfig

    s = dict(settings or {})
    s["blur_faces"] = _flag(s.get("blur_faces", True))
    s.setdefault("video_dir", "videos_blurred" if s["blur_faces"] else "videos_mp4")
    for name in ("fps", "min_track_len", "min_track_area"):
        if name in s:
            s[name] = float(s[name])
    if "curation_sizes" in s:
        s["curation_sizes"] = tuple(int(v) for v in s["curation_sizes"])
    for name in ("seed", "per_video"):
        if name in s:
            s[name] = int(s[name])
    names = {f.name for f in dataclasses.fields(TrackConfig)}
    return TrackConfig(**{k: v for k, v in s.items() if k in names})


class TrackTrackVerseObjectsOperator(TrackVerseShardOperator):
    """Steps 5-6 over one shard, one after another: ``tracks`` (detector + ByteTrack →
    ``tracks_meta/<domain>/<p>/<yid>-meta.jsonl.gzip``), then ``clips`` (one clip per kept track →
    ``tracks_mp4/<domain>/<fn>``, faces blurred when asked).

    One task, not two, for the reason steps 1-4 share one: a separate ``clips`` task cost a scheduling round, a
    process start and a second load of the CenterFace model that ``tracks`` had just loaded (1.5 s of a 2.4 s
    step on the sample videos, bench case 23). Each step keeps its own manifest, so a retry skips finished steps
    and finished videos. Returns ``{step: shard counts}``."""

    def run(self, context) -> dict:
        from include.visionflow.datasets import trackverse_tracks
        from include.visionflow.shards import ShardSpec

        config, storage, spec = track_config(self.settings), self.storage(), ShardSpec.from_xcom(self.shard)
        return {step: shard_xcom(trackverse_tracks.run_stage(storage, spec, step, config))
                for step in trackverse_tracks.STAGES}


class CurateTrackVerseOperator(VisionflowOperator):
    """The run's end: ``summary.json`` (counts per step, the subsets' ``record_format``), then step 7, the
    curated subsets (``tracks_subsets/<domain>/<name>.jsonl.gzip``), then the dataset card ``README.md`` over
    them. Fails the run when no video could be downloaded at all.

    One task, not two: each is a fraction of a second of work, and a task of its own cost a scheduling round and
    a process start (bench case 23). Returns the counts and the subsets' names and sizes."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shards", "settings")

    def __init__(self, *, shards: Any, settings: Any, **kwargs):
        super().__init__(**kwargs)
        self.shards, self.settings = shards, settings

    def run(self, context) -> dict:
        from include.visionflow.datasets import trackverse, trackverse_tracks
        from include.visionflow.report.video_families import write_trackverse_card

        storage, cfg = self.storage(), track_config(self.settings)
        specs = shard_specs(self.shards)
        report = trackverse.summary(storage, specs, (*trackverse.STAGES, *trackverse_tracks.STAGES),
                                    record_format=cfg.record_format)
        downloaded = report["stages"].get("download", {}).get("counts", {}).get("ok", 0)
        if specs and not downloaded:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"none of {report['videos']} videos could be downloaded; see the download "
                                       f"manifests under {storage.uri(work_key(context['run_id']))}")
        self.log.info("trackverse: %s videos, %s segments kept; summary in %s", report["videos"],
                      report["segments_kept"], storage.uri("summary.json"))
        subsets = trackverse_tracks.curate(storage, cfg)
        self.log.info("curated subsets: %s", subsets)
        # Here, not in the report beside this task: the card lists the files just written.
        self.log.info("dataset card: %s", write_trackverse_card(storage, cfg.domain, cfg.record_format))
        return {"videos": report["videos"], "segments_kept": report["segments_kept"], "subsets": subsets}
