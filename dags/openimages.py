"""
### OpenImages V4 (PRIMO split)

Builds the OpenImages V4 image sets of the PRIMO similarity-search paper from the official metadata:

- **target**: the boxable train images; with `tarballs` on, the CVDF tarballs `train_*.tar.gz` are synced into
  `<output_root>/targets/` and `validation.tar.gz` into `<output_root>/validation/`, each converted to a zip with
  the same members and verified before the tarball is removed;
- **train**: the first `train_size` rows with `Subset=train` that are not targets, in file order;
- **extended_targets**: the rest of those rows.

Images are downloaded from `OriginalURL`, kept only if their MD5 matches `OriginalMD5` (base64), thumbnailed to
`thumbnail_size` on the longer side (never upscaled) and saved as RGB JPEG to
`<output_root>/<split>/images/<id[:2]>/<id>.jpg`. Every image gets one status row in the shard manifests
(`_work/<run>/<split>/manifests/`); `<output_root>/<split>/summary.json` totals them. Dead links, wrong MD5s and
undecodable files are counted, not fatal. Reruns skip images already done.

`output_root` may be `s3://bucket/prefix` (connection `aws_default`). The tarball source is
`s3://open-images-dataset/tar/` unsigned, or the endpoint of connection `openimages_s3` when it exists.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.operators.openimages import (
    DownloadOpenImagesShardOperator,
    FetchOpenImagesMetadataOperator,
    ListOpenImagesTarballsOperator,
    PlanOpenImagesShardsOperator,
    SummarizeOpenImagesOperator,
    SyncOpenImagesTarballOperator,
)

OPENIMAGES_2018 = "https://storage.googleapis.com/openimages/2018_04"

with DAG(
    dag_id="openimages_v4",
    schedule=None,
    start_date=pendulum.datetime(2018, 4, 30, tz="UTC"),
    catchup=False,
    params={
        "metadata_url": Param(f"{OPENIMAGES_2018}/image_ids_and_rotation.csv", type="string", minLength=1,
                              title="Metadata CSV",
                              description="The full image_ids_and_rotation.csv (URL or local path)."),
        "boxable_url": Param(f"{OPENIMAGES_2018}/train/train-images-boxable-with-rotation.csv", type="string",
                             minLength=1, title="Boxable CSV",
                             description="train-images-boxable-with-rotation.csv: its ids are the target set."),
        "output_root": Param("data/open_images", type="string", minLength=1, title="Output root",
                             description="Local folder or s3://bucket/prefix."),
        "splits": Param(["train", "extended_targets"], type="array",
                        items={"type": "string", "enum": ["train", "extended_targets"]}, minItems=1,
                        title="Splits to download", description="URL-downloaded splits."),
        "train_size": Param(1200000, type="integer", minimum=0, title="Train size",
                            description="First N non-target train rows form the train split."),
        "thumbnail_size": Param(1024, type="integer", minimum=16, maximum=16384, title="Thumbnail size",
                                description="Longer side in pixels; smaller images are kept as they are."),
        "tarballs": Param(False, type="boolean", title="Sync CVDF tarballs",
                          description="Sync train_*.tar.gz and validation.tar.gz and convert them to zips."),
        "tarball_glob": Param(["train_*.tar.gz", "validation.tar.gz"], type="array", items={"type": "string"},
                              title="Tarball globs", description="Which tarballs under tar/ to sync."),
        "fetch_deadline_s": Param(120, type="integer", minimum=5, maximum=3600, title="Fetch deadline (s)",
                                  description="Total time for one image: every connect, read and retry. "
                                              "A slower image ends with reason timeout."),
        "opt_out_directives": Param(["noai", "noimageai", "noindex", "noimageindex"], type="array",
                                    items={"type": "string", "pattern": "^[a-z][a-z_-]*$"},
                                    title="Opt-out directives",
                                    description="X-Robots-Tag directives (for all agents or visionflow) that "
                                                "make an image be skipped as opted_out. Empty: store all."),
        "refresh_metadata": Param(False, type="boolean", title="Refresh metadata",
                                  description="Download the metadata CSVs again even if present."),
    },
    **dag_kwargs(__doc__, ["openimages", "images"]),
) as dag:
    root = "{{ params.output_root }}"
    metadata = FetchOpenImagesMetadataOperator(
        task_id="fetch_metadata", metadata_url="{{ params.metadata_url }}", boxable_url="{{ params.boxable_url }}",
        output_root=root, refresh="{{ params.refresh_metadata }}",
    )
    plan = PlanOpenImagesShardsOperator(
        task_id="plan_shards", output_root=root, splits="{{ params.splits }}", train_size="{{ params.train_size }}",
    )
    download = DownloadOpenImagesShardOperator.partial(
        task_id="download", output_root=root, thumbnail_size="{{ params.thumbnail_size }}",
        fetch_deadline_s="{{ params.fetch_deadline_s }}", opt_out_directives="{{ params.opt_out_directives }}",
        max_active_tis_per_dag=4,
    ).expand(shard=plan.output)
    tarballs = ListOpenImagesTarballsOperator(
        task_id="list_tarballs", tarballs="{{ params.tarballs }}", tarball_glob="{{ params.tarball_glob }}",
    )
    sync = SyncOpenImagesTarballOperator.partial(task_id="sync_tarball", output_root=root).expand(
        key=tarballs.output
    )
    summary = SummarizeOpenImagesOperator(
        task_id="summarize", shards=plan.output, output_root=root, trigger_rule="none_failed",
    )
    metadata >> plan >> download >> summary
    tarballs >> sync >> summary
