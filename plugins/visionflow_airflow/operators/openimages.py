"""OpenImages V4 operators: each reads its (templated) arguments, calls one engine function, returns a
small XCom (paths, counts). Engine imports happen inside ``run`` so DAG parsing stays cheap."""
from __future__ import annotations

from typing import Any, Sequence

from visionflow_airflow.common import VisionflowOperator, as_bool, as_int, as_list, shard_specs, shard_xcom

SOURCE_CONN_ID = "openimages_s3"


class FetchOpenImagesMetadataOperator(VisionflowOperator):
    """Fetch ``image_ids_and_rotation.csv`` and the boxable CSV into ``<output_root>/metadata/``.

    :param metadata_url: full metadata CSV, http(s) or a local path (templated)
    :param boxable_url: boxable train CSV (templated)
    """

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "metadata_url", "boxable_url", "refresh")

    def __init__(self, *, metadata_url: str, boxable_url: str, refresh: Any = False, **kwargs):
        super().__init__(**kwargs)
        self.metadata_url, self.boxable_url, self.refresh = metadata_url, boxable_url, refresh

    def run(self, context) -> dict:
        from include.visionflow.datasets import openimages as oi
        from include.visionflow.fetch.http import METADATA_DEADLINE, FetchConfig, Fetcher

        storage = self.storage()
        fetcher = Fetcher(FetchConfig(total_timeout=METADATA_DEADLINE, opt_out=()))
        oi.fetch_metadata(storage, self.metadata_url, oi.METADATA_REL, fetcher, as_bool(self.refresh))
        oi.fetch_metadata(storage, self.boxable_url, oi.BOXABLE_REL, fetcher, as_bool(self.refresh))
        self.log.info("metadata in %s and %s", storage.uri(oi.METADATA_REL), storage.uri(oi.BOXABLE_REL))
        return {"metadata": storage.uri(oi.METADATA_REL), "boxable": storage.uri(oi.BOXABLE_REL)}


class PlanOpenImagesShardsOperator(VisionflowOperator):
    """Split the metadata (target / train / extended_targets) and write shards; returns shard specs."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "splits", "train_size", "min_shard",
                                      "parallelism")

    def __init__(self, *, splits: Any, train_size: Any, min_shard: Any = 1000, parallelism: Any = 1, **kwargs):
        super().__init__(**kwargs)
        self.splits, self.train_size = splits, train_size
        self.min_shard, self.parallelism = min_shard, parallelism

    def run(self, context) -> list[dict]:
        from include.visionflow.datasets import openimages as oi
        from include.visionflow.shards import work_rel

        storage = self.storage()
        splits = as_list(self.splits)
        specs = oi.plan_shards(storage, work_rel("openimages", context["run_id"]), splits,
                               as_int(self.train_size, "train_size"), as_int(self.min_shard, "min_shard_rows", 1000),
                               as_int(self.parallelism, "parallelism", 1))
        self.log.info("%s shards under %s: %s", len(specs), storage.uri(work_rel("openimages", context["run_id"])),
                      {s: sum(x.count for x in specs if x.label == s) for s in splits})
        return [s.to_xcom() for s in specs]


class DownloadOpenImagesShardOperator(VisionflowOperator):
    """Download, verify and thumbnail one shard; writes its manifest; returns the shard's counts."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shard", "thumbnail_size", "quality",
                                      "fetch_deadline_s", "opt_out_directives")

    def __init__(self, *, shard: Any, thumbnail_size: Any = 1024, quality: Any = 90, fetch_deadline_s: Any = 120,
                 opt_out_directives: Any = ("noai", "noimageai", "noindex", "noimageindex"), **kwargs):
        super().__init__(**kwargs)
        self.shard, self.thumbnail_size, self.quality = shard, thumbnail_size, quality
        self.fetch_deadline_s, self.opt_out_directives = fetch_deadline_s, opt_out_directives

    def run(self, context) -> dict:
        from include.visionflow import settings
        from include.visionflow.datasets import openimages as oi
        from include.visionflow.fetch.http import image_fetcher
        from include.visionflow.shards import ShardSpec

        storage = self.storage()
        spec = ShardSpec.from_xcom(self.shard)
        config = oi.DownloadConfig(as_int(self.thumbnail_size, "thumbnail_size"), as_int(self.quality, "quality"),
                                   settings.default_threads())
        fetcher = image_fetcher(self.fetch_deadline_s, self.opt_out_directives)
        stats = oi.download_shard(storage, spec, config, fetcher)
        self.log.info("shard %s: %s images in %s (%s)", stats.shard_id, stats.ok,
                      storage.uri(f"{spec.label}/images"), stats.counts)
        return shard_xcom(stats)


class ListOpenImagesTarballsOperator(VisionflowOperator):
    """Tarball keys to sync (empty when ``tarballs`` is false): the map source for the sync task."""

    template_fields: Sequence[str] = ("tarballs", "tarball_glob")

    def __init__(self, *, tarballs: Any, tarball_glob: Any, source_conn_id: str = SOURCE_CONN_ID, **kwargs):
        super().__init__(**kwargs)
        self.tarballs, self.tarball_glob, self.source_conn_id = tarballs, tarball_glob, source_conn_id

    def run(self, context) -> list[str]:
        if not as_bool(self.tarballs):
            return []
        from include.visionflow.datasets.openimages_tarballs import list_tarballs
        from visionflow_airflow.hooks.s3 import s3_options

        keys = list_tarballs(s3_options(self.source_conn_id, unsigned_default=True), as_list(self.tarball_glob))
        self.log.info("%s tarballs to sync: %s", len(keys), keys)
        return keys


class SyncOpenImagesTarballOperator(VisionflowOperator):
    """Download one tarball into targets/ or validation/ and convert it to a verified zip."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "key")

    def __init__(self, *, key: str, source_conn_id: str = SOURCE_CONN_ID, **kwargs):
        super().__init__(**kwargs)
        self.key, self.source_conn_id = key, source_conn_id

    def run(self, context) -> dict:
        from include.visionflow.datasets.openimages_tarballs import sync_tarball
        from visionflow_airflow.hooks.s3 import s3_options

        result = sync_tarball(s3_options(self.source_conn_id, unsigned_default=True), self.key, self.storage())
        self.log.info("%s -> %s", self.key, result.to_xcom())
        return result.to_xcom()


class SummarizeOpenImagesOperator(VisionflowOperator):
    """Counts per status and reason per split -> ``<split>/summary.json``; lists the converted zips."""

    template_fields: Sequence[str] = (*VisionflowOperator.template_fields, "shards")

    def __init__(self, *, shards: Any, **kwargs):
        super().__init__(**kwargs)
        self.shards = shards

    def run(self, context) -> dict:
        from include.visionflow.datasets import openimages as oi

        storage = self.storage()
        zips = sorted(k for folder in ("targets", "validation") for k in storage.list(folder) if k.endswith(".zip"))
        summary = oi.summarize(storage, shard_specs(self.shards), {"zips": zips})
        for split, counts in summary.items():
            if split == "zips":
                self.log.info("zips: %s", counts)
            else:
                self.log.info("%s: %s in %s; summary %s", split, counts["counts"], counts["output"],
                              storage.uri(f"{split}/summary.json"))
        return summary
