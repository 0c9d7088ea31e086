"""OpenImages V4 operators: each reads its (templated) arguments, calls one engine function, returns a
small XCom (paths, counts). Engine imports happen inside ``execute`` so DAG parsing stays cheap."""
from __future__ import annotations

import re
from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, storage_for

SOURCE_CONN_ID = "openimages_s3"


def work_key(run_id: str) -> str:
    """A storage-safe folder name for a run's shards."""
    return "_work/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


class FetchOpenImagesMetadataOperator(VisionflowOperator):
    """Fetch ``image_ids_and_rotation.csv`` and the boxable CSV into ``<output_root>/metadata/``.

    :param metadata_url: full metadata CSV, http(s) or a local path (templated)
    :param boxable_url: boxable train CSV (templated)
    :param output_root: local path or s3:// (templated)
    """

    template_fields: Sequence[str] = ("metadata_url", "boxable_url", "output_root", "refresh")

    def __init__(self, *, metadata_url: str, boxable_url: str, output_root: str, refresh: Any = False,
                 aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.metadata_url, self.boxable_url, self.output_root = metadata_url, boxable_url, output_root
        self.refresh, self.aws_conn_id = refresh, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets import openimages as oi
        from include.visionflow.fetch.http import Fetcher

        storage = storage_for(self.output_root, self.aws_conn_id)
        fetcher = Fetcher()
        oi.fetch_metadata(storage, self.metadata_url, oi.METADATA_REL, fetcher, bool(self.refresh))
        oi.fetch_metadata(storage, self.boxable_url, oi.BOXABLE_REL, fetcher, bool(self.refresh))
        return {"metadata": storage.uri(oi.METADATA_REL), "boxable": storage.uri(oi.BOXABLE_REL)}


class PlanOpenImagesShardsOperator(VisionflowOperator):
    """Split the metadata (target / train / extended_targets) and write shards; returns shard specs."""

    template_fields: Sequence[str] = ("output_root", "splits", "train_size", "min_shard", "parallelism")

    def __init__(self, *, output_root: str, splits: Any, train_size: Any, min_shard: Any = 1000,
                 parallelism: Any = 1, aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.output_root, self.splits, self.train_size = output_root, splits, train_size
        self.min_shard, self.parallelism, self.aws_conn_id = min_shard, parallelism, aws_conn_id

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import openimages as oi

        storage = storage_for(self.output_root, self.aws_conn_id)
        specs = oi.plan_shards(storage, work_key(context["run_id"]), list(self.splits), int(self.train_size),
                               int(self.min_shard), int(self.parallelism))
        self.log.info("%s shards: %s", len(specs), {s: sum(x.count for x in specs if x.label == s)
                                                     for s in self.splits})
        return [s.to_xcom() for s in specs]


class DownloadOpenImagesShardOperator(VisionflowOperator):
    """Download, verify and thumbnail one shard; writes its manifest; returns the shard's counts."""

    template_fields: Sequence[str] = ("shard", "output_root", "thumbnail_size", "quality")

    def __init__(self, *, shard: Any, output_root: str, thumbnail_size: Any = 1024, quality: Any = 90,
                 aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.shard, self.output_root = shard, output_root
        self.thumbnail_size, self.quality, self.aws_conn_id = thumbnail_size, quality, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow import settings
        from include.visionflow.datasets import openimages as oi
        from include.visionflow.shards import ShardSpec

        storage = storage_for(self.output_root, self.aws_conn_id)
        config = oi.DownloadConfig(int(self.thumbnail_size), int(self.quality), settings.default_threads())
        stats = oi.download_shard(storage, ShardSpec.from_xcom(self.shard), config)
        return {"shard": stats.shard_id, "counts": stats.counts}


class ListOpenImagesTarballsOperator(VisionflowOperator):
    """Tarball keys to sync (empty when ``tarballs`` is false): the map source for the sync task."""

    template_fields: Sequence[str] = ("tarballs", "tarball_glob")

    def __init__(self, *, tarballs: Any, tarball_glob: Any, source_conn_id: str = SOURCE_CONN_ID, **kwargs):
        super().__init__(**kwargs)
        self.tarballs, self.tarball_glob, self.source_conn_id = tarballs, tarball_glob, source_conn_id

    def run(self, context) -> list[str]:
        if not self.tarballs:
            return []
        from include.visionflow.datasets.openimages_tarballs import list_tarballs
        from visionflow_airflow.hooks.s3 import s3_options

        globs = self.tarball_glob.split(",") if isinstance(self.tarball_glob, str) else list(self.tarball_glob)
        return list_tarballs(s3_options(self.source_conn_id, unsigned_default=True), [g.strip() for g in globs])


class SyncOpenImagesTarballOperator(VisionflowOperator):
    """Download one tarball into targets/ or validation/ and convert it to a verified zip."""

    template_fields: Sequence[str] = ("key", "output_root")

    def __init__(self, *, key: str, output_root: str, source_conn_id: str = SOURCE_CONN_ID,
                 aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.key, self.output_root = key, output_root
        self.source_conn_id, self.aws_conn_id = source_conn_id, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets.openimages_tarballs import sync_tarball
        from visionflow_airflow.hooks.s3 import s3_options

        storage = storage_for(self.output_root, self.aws_conn_id)
        source = s3_options(self.source_conn_id, unsigned_default=True)
        return sync_tarball(source, self.key, storage).to_xcom()


class SummarizeOpenImagesOperator(VisionflowOperator):
    """Counts per status and reason per split -> ``<split>/summary.json``; lists the converted zips."""

    template_fields: Sequence[str] = ("shards", "output_root")

    def __init__(self, *, shards: Any, output_root: str, aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.shards, self.output_root, self.aws_conn_id = shards, output_root, aws_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets import openimages as oi
        from include.visionflow.shards import ShardSpec

        storage = storage_for(self.output_root, self.aws_conn_id)
        zips = sorted(k for folder in ("targets", "validation") for k in storage.list(folder) if k.endswith(".zip"))
        summary = oi.summarize(storage, [ShardSpec.from_xcom(s) for s in self.shards or []], {"zips": zips})
        for split, counts in summary.items():
            self.log.info("%s: %s", split, counts if split == "zips" else counts["counts"])
        return summary
