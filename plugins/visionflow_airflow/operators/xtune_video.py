"""Operators of the XTune video DAGs: AdaCLIP video retrieval (``video_retrieval``) and ActivityNet-QA for
LLaMA-Factory (``activitynet_qa``). Each stores its templated arguments, calls one engine function in ``run``
and returns a small XCom (a folder, shard specs, counts). Engine imports happen inside ``run``."""
from __future__ import annotations

from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, as_int, is_set, shard_specs, shard_xcom


def _frames_dir(frames_dir: str, data_root: str, dataset: str) -> str:
    return frames_dir or f"{str(data_root).rstrip('/')}/frames/{dataset}"


class FetchRetrievalVideosOperator(VisionflowOperator):
    """The local folder of videos: ``videos_dir``, or ``videos_url`` (zip/tar) unpacked flat; returns it."""

    template_fields: Sequence[str] = ("dataset", "videos_url", "videos_dir", "data_root")

    def __init__(self, *, dataset: str, videos_url: str, videos_dir: str, data_root: str, **kwargs):
        super().__init__(**kwargs)
        self.dataset, self.videos_url, self.videos_dir, self.data_root = dataset, videos_url, videos_dir, data_root

    def run(self, context) -> str:
        from include.visionflow.datasets import video_retrieval

        return video_retrieval.fetch_videos(self.dataset, self.videos_url if is_set(self.videos_url) else "",
                                            self.videos_dir if is_set(self.videos_dir) else "", self.data_root)


class RetrievalAnnotationsOperator(VisionflowOperator):
    """``annots/<dataset>/{train,val[,test]}.json`` under ``data_root``; returns videos per split."""

    template_fields: Sequence[str] = ("dataset", "videos_dir", "data_root", "annotations_url", "splits_url")

    def __init__(self, *, dataset: str, videos_dir: str, data_root: str, annotations_url: str = "",
                 splits_url: str = "", **kwargs):
        super().__init__(**kwargs)
        self.dataset, self.videos_dir, self.data_root = dataset, videos_dir, data_root
        self.annotations_url, self.splits_url = annotations_url, splits_url

    def run(self, context) -> dict:
        from include.visionflow.datasets import video_retrieval

        report = video_retrieval.prepare_annotations(
            self.storage(self.data_root), self.dataset, self.videos_dir,
            self.annotations_url if is_set(self.annotations_url) else "",
            self.splits_url if is_set(self.splits_url) else "")
        return {split: r["videos"] for split, r in report["splits"].items()}


class _FramesBase(VisionflowOperator):
    template_fields: Sequence[str] = ("dataset", "frames_dir", "data_root")

    def __init__(self, *, dataset: str, frames_dir: str, data_root: str, **kwargs):
        super().__init__(**kwargs)
        self.dataset, self.frames_dir, self.data_root = dataset, frames_dir, data_root

    def frames_storage(self):
        frames_dir = self.frames_dir if is_set(self.frames_dir) else ""
        return self.storage(_frames_dir(frames_dir, self.data_root, self.dataset))


class PlanRetrievalFramesOperator(_FramesBase):
    """One row per video of ``videos_dir``, in shards under ``<frames_dir>/_work/``; returns shard specs."""

    template_fields: Sequence[str] = (*_FramesBase.template_fields, "videos_dir")

    def __init__(self, *, videos_dir: str, videos_per_shard: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.videos_dir, self.videos_per_shard = videos_dir, videos_per_shard

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import video_retrieval

        from include.visionflow.shards import work_rel

        video_retrieval.check_dataset(self.dataset)
        storage = self.frames_storage()
        work = work_rel("video_retrieval", context["run_id"])
        specs = video_retrieval.plan(storage, work, self.videos_dir, self.videos_per_shard)
        self.log.info("%s shards of videos under %s", len(specs), storage.uri(work))
        return [spec.to_xcom() for spec in specs]


class ExtractRetrievalFramesOperator(_FramesBase):
    """One shard of videos -> ``<frames_dir>/<video key>/image_%05d.jpg`` (AdaCLIP's extraction)."""

    template_fields: Sequence[str] = (*_FramesBase.template_fields, "shard", "frame_rate", "frame_size")

    def __init__(self, *, shard: Any, frame_rate: Any = -1, frame_size: Any = -1, **kwargs):
        super().__init__(**kwargs)
        self.shard, self.frame_rate, self.frame_size = shard, frame_rate, frame_size

    def run(self, context) -> dict:
        from include.visionflow.datasets import video_retrieval
        from include.visionflow.shards import ShardSpec

        settings = video_retrieval.FrameSettings(float(self.frame_rate), as_int(self.frame_size, "frame_size", -1))
        storage = self.frames_storage()
        stats = video_retrieval.extract_shard(storage, ShardSpec.from_xcom(self.shard), settings)
        self.log.info("shard %s: frames of %s videos under %s (%s)", stats.shard_id, stats.ok, storage.uri(""),
                      stats.counts)
        return shard_xcom(stats)


class ReportRetrievalOperator(_FramesBase):
    """``reports/video_retrieval_<dataset>.json`` under ``data_root``; returns the status counts."""

    template_fields: Sequence[str] = (*_FramesBase.template_fields, "shards")

    def __init__(self, *, shards: Any, **kwargs):
        super().__init__(**kwargs)
        self.shards = shards

    def run(self, context) -> dict:
        from include.visionflow.datasets import video_retrieval

        specs = shard_specs(self.shards)
        summary = video_retrieval.report(self.frames_storage(), specs, self.storage(self.data_root), self.dataset)
        return {"counts": summary["counts"], "frames": summary["frames"]}


class _QABase(VisionflowOperator):
    """``data_dir``: the LLaMA-Factory data folder (local; ``dataset_info.json`` lives there)."""

    template_fields: Sequence[str] = ("data_dir",)

    def __init__(self, *, data_dir: str, **kwargs):
        super().__init__(**kwargs)
        self.data_dir = data_dir

    def data_storage(self):
        from include.visionflow.errors import BadInputError

        if str(self.data_dir).startswith("s3://"):
            raise BadInputError("data_dir must be a local folder: LLaMA-Factory reads dataset_info.json there")
        return self.storage(self.data_dir)

    @staticmethod
    def work(context) -> str:
        from include.visionflow.shards import work_rel

        return work_rel("activitynet_qa", context["run_id"])


class PlanActivityNetQAOperator(_QABase):
    """Join questions and answers, index ``videos_dir`` once, shard the distinct videos; returns specs."""

    template_fields: Sequence[str] = (*_QABase.template_fields, "questions_json", "answers_json", "videos_dir",
                                      "name", "split_type")

    def __init__(self, *, questions_json: str, answers_json: str, videos_dir: str, name: str, split_type: str,
                 **kwargs):
        super().__init__(**kwargs)
        self.questions_json, self.answers_json, self.videos_dir = questions_json, answers_json, videos_dir
        self.name, self.split_type = name, split_type

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import activitynet_qa

        questions = self.questions_json if is_set(self.questions_json) else activitynet_qa.default_questions(self.name)
        answers = self.answers_json if is_set(self.answers_json) else activitynet_qa.default_answers(self.split_type)
        specs = activitynet_qa.plan(self.data_storage(), self.work(context), questions, answers, self.videos_dir)
        return [spec.to_xcom() for spec in specs]


class ProbeActivityNetQAOperator(_QABase):
    """One shard of videos: each one's duration (video stream, else container)."""

    template_fields: Sequence[str] = (*_QABase.template_fields, "shard")

    def __init__(self, *, shard: Any, **kwargs):
        super().__init__(**kwargs)
        self.shard = shard

    def run(self, context) -> dict:
        from include.visionflow.datasets import activitynet_qa
        from include.visionflow.shards import ShardSpec

        stats = activitynet_qa.probe_shard(self.data_storage(), ShardSpec.from_xcom(self.shard))
        return shard_xcom(stats)


class WriteActivityNetQAOperator(_QABase):
    """``activitynet_qa_<type>_<n>_limit_<seconds>s.json`` and its ``dataset_info.json`` entry."""

    template_fields: Sequence[str] = (*_QABase.template_fields, "shards", "split_type", "n", "seconds",
                                      "videos_mode")

    def __init__(self, *, shards: Any, split_type: str, n: Any, seconds: Any, videos_mode: str = "absolute",
                 **kwargs):
        super().__init__(**kwargs)
        self.shards, self.split_type, self.n, self.seconds = shards, split_type, n, seconds
        self.videos_mode = videos_mode

    def run(self, context) -> dict:
        from include.visionflow.datasets import activitynet_qa

        specs = shard_specs(self.shards)
        report = activitynet_qa.write(self.data_storage(), self.work(context), specs, self.data_dir, self.split_type,
                                      as_int(self.n, "n"), float(self.seconds), self.videos_mode)
        return {"output": report["output"], "rows": report["rows"], "entry": report["entry"]}
