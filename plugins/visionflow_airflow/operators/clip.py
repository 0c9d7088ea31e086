"""CLIP image dataset operators (XTune guide): each stores its templated arguments, calls one engine function
in ``run`` and returns a small XCom (paths, counts, shard specs). Engine imports happen inside ``run``."""
from __future__ import annotations

import re
from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, as_int, shard_specs, shard_xcom

SOURCE_FIELDS = ("archive_url", "val_archive_url", "split_url", "classnames_url", "annotations_url",
                 "karpathy_url", "checksums_url")


def work_key(run_id: str, dataset: str) -> str:
    return f"_work/clip_datasets/{dataset}/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


class _ClipBase(VisionflowOperator):
    """Shared arguments: the ``dataset`` name and the local ``data_root`` (the output root; templated)."""

    template_fields: Sequence[str] = ("dataset", "output_root")

    def __init__(self, *, dataset: str, data_root: str, **kwargs):
        super().__init__(output_root=data_root, **kwargs)
        self.dataset = dataset

    @property
    def data_root(self) -> str:
        return str(self.output_root)

    def storage(self, root: str | None = None):
        from include.visionflow.datasets.clip import check_dataset

        check_dataset(self.dataset)
        return super().storage(root)


class FetchClipDatasetOperator(_ClipBase):
    """Download (resumable, checksum-checked) and safely extract the dataset's archives and annotation files.

    :param sources: ``{archive_url, val_archive_url, split_url, classnames_url, annotations_url, karpathy_url,
        checksums_url}``, each a URL or local path; empty = the official default where one exists (templated)
    """

    template_fields: Sequence[str] = (*_ClipBase.template_fields, "sources")

    def __init__(self, *, sources: Any, **kwargs):
        super().__init__(**kwargs)
        self.sources = sources

    def run(self, context) -> dict:
        from include.visionflow.datasets import clip

        given = {k: str(v or "") for k, v in dict(self.sources or {}).items() if k in SOURCE_FIELDS}
        self.storage()
        result = clip.fetch(self.dataset, self.data_root, clip.Sources(**given))
        self.log.info("%s inputs in place in %s: %s", self.dataset, result["root"], result["entries"])
        return result


class AnnotateClipDatasetOperator(_ClipBase):
    """Derive the split (Caltech101, seeded), ``classnames.txt`` (mini-ImageNet) when not given."""

    template_fields: Sequence[str] = (*_ClipBase.template_fields, "seed")

    def __init__(self, *, seed: Any = 1, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def run(self, context) -> dict:
        from include.visionflow.datasets import clip

        self.storage()
        result = clip.annotate(self.dataset, self.data_root, as_int(self.seed, "seed", 1))
        self.log.info("%s: derived %s in %s", self.dataset, result["made"] or "nothing (all given)", result["root"])
        return result


class PlanClipImagesOperator(_ClipBase):
    """One shard row per listed image per split; returns the shard specs to map over."""

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import clip_check

        specs = clip_check.plan(self.storage(), work_key(context["run_id"], self.dataset), self.dataset,
                                self.data_root)
        return [s.to_xcom() for s in specs]


class CheckClipImagesOperator(_ClipBase):
    """Check one shard of listed images (present, safe path, opens as an image); returns its counts."""

    template_fields: Sequence[str] = (*_ClipBase.template_fields, "shard")

    def __init__(self, *, shard: Any, **kwargs):
        super().__init__(**kwargs)
        self.shard = shard

    def run(self, context) -> dict:
        from include.visionflow.datasets import clip_check
        from include.visionflow.shards import ShardSpec

        stats = clip_check.check_shard(self.storage(), ShardSpec.from_xcom(self.shard), self.dataset,
                                       self.data_root)
        return shard_xcom(stats)


class ReportClipLayoutOperator(_ClipBase):
    """``layout_report.json`` (counts per split, missing files, the expected tree) and the trainer's
    ``dataset_info.json`` entry where it needs one; fails when the expected tree is incomplete."""

    template_fields: Sequence[str] = (*_ClipBase.template_fields, "shards")

    def __init__(self, *, shards: Any, **kwargs):
        super().__init__(**kwargs)
        self.shards = shards

    def run(self, context) -> dict:
        from include.visionflow.datasets import clip_check

        report = clip_check.report(self.storage(), shard_specs(self.shards), self.dataset, self.data_root)
        self.log.info("%s prepared in %s/%s: %s", self.dataset, self.data_root, report["root"], report["splits"])
        return {"root": report["root"], "splits": report["splits"]}
