"""Video operators (Kinetics in the mmaction2 layout; fixed-rate frame extraction). Each stores its
(templated) arguments, calls one engine function in ``run`` and returns a small XCom: shard specs or
counts. Engine and media imports happen inside ``run``, so DAG parsing stays cheap. Bad input fails at once,
without retries (``VisionflowOperator``)."""
from __future__ import annotations

from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, as_bool, as_int, as_list, shard_specs, shard_xcom


def _skip(reason: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    raise AirflowSkipException(reason)


class _KineticsBase(VisionflowOperator):
    """Shared argument: ``dataset`` (kinetics400/600/700, templated)."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "dataset")

    def __init__(self, *, dataset: str = "kinetics400", **kwargs):
        super().__init__(**kwargs)
        self.dataset = dataset


class FetchKineticsAnnotationsOperator(_KineticsBase):
    """``annotations/kinetics_{train,val,test}.csv`` from a tar.gz or a folder (URL or local path).

    :param annotations_url: the tarball or folder; empty = the official DeepMind tarball of ``dataset``
        (templated)
    :param splits: splits to prepare; train is always fetched for the labels (templated)
    """

    template_fields: Sequence[str] = (*_KineticsBase.template_fields, "annotations_url", "splits")
    OFFICIAL = "https://storage.googleapis.com/deepmind-media/Datasets/{dataset}.tar.gz"

    def __init__(self, *, annotations_url: str, splits: Any, **kwargs):
        super().__init__(**kwargs)
        self.annotations_url, self.splits = annotations_url, splits

    def run(self, context) -> dict:
        from include.visionflow.datasets import kinetics

        url = self.annotations_url or self.OFFICIAL.format(dataset=self.dataset)
        kinetics.KineticsConfig(dataset=self.dataset)  # validates the dataset name before any download
        files = kinetics.fetch_annotations(self.storage(), url, as_list(self.splits))
        self.log.info("annotations from %s: %s", url, files)
        return files


class PlanKineticsClipsOperator(_KineticsBase):
    """Cut the requested splits into shards of clip rows (``limit`` rows per split); returns shard specs."""

    template_fields: Sequence[str] = (*_KineticsBase.template_fields, "splits", "limit")

    def __init__(self, *, splits: Any, limit: Any = None, clips_per_shard: int = 25, **kwargs):
        super().__init__(**kwargs)
        self.splits, self.limit, self.clips_per_shard = splits, limit, clips_per_shard

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import kinetics

        from include.visionflow.shards import work_rel

        storage = self.storage()
        work = work_rel("kinetics", context["run_id"])
        specs = kinetics.plan(storage, work, as_list(self.splits), as_int(self.limit, "limit"), self.clips_per_shard)
        self.log.info("%s shards of clips under %s", len(specs), storage.uri(work))
        return [spec.to_xcom() for spec in specs]


class MakeKineticsClipsOperator(_KineticsBase):
    """One shard: fetch each raw video and trim it to ``videos_<split>/<class>/<ytid>_<start>_<end>.mp4``.

    :param video_source: ``youtube`` | ``url_template`` | ``local_dir`` (templated)
    :param url_template: e.g. ``http://host/{youtube_id}.mp4`` (templated)
    :param local_dir: folder of ``<youtube_id>.<ext>`` raw videos (templated)
    """

    template_fields: Sequence[str] = (*_KineticsBase.template_fields, "shard", "video_source", "url_template",
                                      "local_dir")

    def __init__(self, *, shard: Any, video_source: str, url_template: str = "", local_dir: str = "", **kwargs):
        super().__init__(**kwargs)
        self.shard, self.video_source = shard, video_source
        self.url_template, self.local_dir = url_template, local_dir

    def run(self, context) -> dict:
        from include.visionflow.datasets import kinetics
        from include.visionflow.shards import ShardSpec
        from include.visionflow.video.sources import VideoSource

        source = VideoSource(self.video_source, self.url_template or "", self.local_dir or "")
        config = kinetics.KineticsConfig(dataset=self.dataset, source=source)
        storage = self.storage()
        stats = kinetics.clips_shard(storage, ShardSpec.from_xcom(self.shard), config)
        self.log.info("shard %s: %s clips under %s (%s)", stats.shard_id, stats.ok, storage.uri(""), stats.counts)
        return shard_xcom(stats)


class _KineticsShardStage(_KineticsBase):
    """A per-clip stage after the clips (dense cache, raw frames); skipped when its switch is off."""

    template_fields: Sequence[str] = (*_KineticsBase.template_fields, "shard", "short_side", "enabled")
    stage = ""

    def __init__(self, *, shard: Any, short_side: Any = 256, enabled: Any = True, **kwargs):
        super().__init__(**kwargs)
        self.shard, self.short_side, self.enabled = shard, short_side, enabled

    def run(self, context) -> dict:
        from include.visionflow.datasets import kinetics
        from include.visionflow.shards import ShardSpec

        if not as_bool(self.enabled):
            _skip(f"{self.stage} is switched off for this run")
        config = kinetics.KineticsConfig(dataset=self.dataset, short_side=as_int(self.short_side, "short_side"))
        run = kinetics.dense_shard if self.stage == "dense" else kinetics.rawframes_shard
        storage = self.storage()
        stats = run(storage, ShardSpec.from_xcom(self.shard), config)
        self.log.info("shard %s: %s %s outputs under %s (%s)", stats.shard_id, stats.ok, self.stage, storage.uri(""),
                      stats.counts)
        return shard_xcom(stats)


class ResizeKineticsClipsOperator(_KineticsShardStage):
    """One shard of the dense cache: ``videos_<split>_<N>p_dense_cache/``, short side N, GOP 16."""

    stage = "dense"


class ExtractKineticsRawframesOperator(_KineticsShardStage):
    """One shard of raw frames: ``rawframes_<split>/<class>/<stem>/img_%05d.jpg``, native rate, short side N."""

    stage = "rawframes"


class WriteKineticsListsOperator(_KineticsBase):
    """mmaction2 file lists from the manifests, shuffled with ``seed``; returns list name → lines."""

    template_fields: Sequence[str] = (*_KineticsBase.template_fields, "shards", "seed")

    def __init__(self, *, shards: Any, seed: Any = 0, **kwargs):
        super().__init__(**kwargs)
        self.shards, self.seed = shards, seed

    def run(self, context) -> dict:
        from include.visionflow.datasets import kinetics_lists

        specs = shard_specs(self.shards)
        storage = self.storage()
        lists = kinetics_lists.write_lists(storage, specs, self.dataset, as_int(self.seed, "seed", 0))
        self.log.info("file lists in %s: %s", storage.uri(""), lists)
        return lists


class ReportKineticsOperator(WriteKineticsListsOperator):
    """``download_report.json`` (failed clips) and ``summary.json`` (counts per split and stage)."""

    def run(self, context) -> dict:
        from include.visionflow.datasets import kinetics_lists
        from include.visionflow.shards import ShardSpec

        specs = None if self.shards is None else [ShardSpec.from_xcom(s) for s in self.shards]
        storage = self.storage()
        summary = kinetics_lists.report(storage, specs, self.dataset, as_int(self.seed, "seed", 0))
        for problem in summary["problems"]:
            self.log.error("incomplete: %s", problem)
        self.log.info("wrote %s and %s", storage.uri(kinetics_lists.SUMMARY_REL), storage.uri(kinetics_lists.REPORT_REL))
        for split, stages in summary["splits"].items():
            self.log.info("%s: %s", split, {stage: s["counts"] for stage, s in stages.items()})
        return {split: stages["clips"]["counts"] for split, stages in summary["splits"].items() if "clips" in stages}


class PlanVideoFramesOperator(VisionflowOperator):
    """Find every video under ``video_dir`` (recursively) and write shards under ``frames_dir``.

    The frames folder is this family's output root: ``frames_dir`` is passed as ``output_root``."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "video_dir")

    def __init__(self, *, video_dir: str, videos_per_shard: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.video_dir, self.videos_per_shard = video_dir, videos_per_shard

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import video_frames
        from include.visionflow.shards import work_rel

        storage = self.storage()
        work = work_rel("video_frames", context["run_id"])
        specs = video_frames.plan(storage, work, self.video_dir, self.videos_per_shard)
        self.log.info("%s shards of videos under %s", len(specs), storage.uri(work))
        return [spec.to_xcom() for spec in specs]


class ExtractVideoFramesOperator(VisionflowOperator):
    """One shard of videos -> ``<frames_dir>/<relative path without extension>/<pattern>`` at ``fps``."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shard", "video_dir", "fps", "short_side",
                                      "pattern", "quality")

    def __init__(self, *, shard: Any, video_dir: str, fps: Any = 10, short_side: Any = 256,
                 pattern: str = "%05d.jpg", quality: Any = 90, **kwargs):
        super().__init__(**kwargs)
        self.shard, self.video_dir = shard, video_dir
        self.fps, self.short_side, self.pattern, self.quality = fps, short_side, pattern, quality

    def run(self, context) -> dict:
        from include.visionflow.datasets import video_frames
        from include.visionflow.shards import ShardSpec

        options = video_frames.frame_options(float(self.fps), as_int(self.short_side, "short_side"), self.pattern,
                                             as_int(self.quality, "quality"))
        storage = self.storage()
        stats = video_frames.extract_shard(storage, ShardSpec.from_xcom(self.shard), self.video_dir, options)
        self.log.info("shard %s: frames of %s videos under %s (%s)", stats.shard_id, stats.ok, storage.uri(""),
                      stats.counts)
        return shard_xcom(stats)


class WriteVideoFramesListOperator(VisionflowOperator):
    """``<relative dir> <nframes>`` lines for every extracted video; returns where the list went."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shards", "filelist")

    def __init__(self, *, shards: Any, filelist: str = "", **kwargs):
        super().__init__(**kwargs)
        self.shards, self.filelist = shards, filelist

    def run(self, context) -> str:
        from include.visionflow.datasets import video_frames

        specs = shard_specs(self.shards)
        where = video_frames.write_filelist(self.storage(), specs, self.filelist or "")
        self.log.info("file list of %s shards written to %s", len(specs), where)
        return where
