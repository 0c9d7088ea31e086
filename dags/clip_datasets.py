"""CLIP image datasets (Intel XTune guide: Caltech101, mini-ImageNet, MSCOCO 2014, Flickr30k, Flickr5k).

Params, outputs, examples: ``docs/clip_datasets.md``; each DAG's ``doc_md`` is its block there
(:mod:`visionflow_airflow.docs`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow.common import dag_kwargs
from visionflow_airflow.docs import dag_doc
from visionflow_airflow.operators.clip import (
    SOURCE_FIELDS,
    AnnotateClipDatasetOperator,
    CheckClipImagesOperator,
    FetchClipDatasetOperator,
    PlanClipImagesOperator,
    ReportClipLayoutOperator,
)
from visionflow_airflow.operators.report import WriteRunReportOperator


# Empty, an http(s) URL or a local path: other schemes (s3://, ftp://) are refused when the run is triggered.
SOURCE_PATTERN = r"^(https?://\S+|[^:]*)$"


def _source(title: str, description: str) -> Param:
    return Param("", type="string", pattern=SOURCE_PATTERN, title=title, description=description)


with DAG(
    dag_id="clip_datasets",
    description="Caltech101, mini-ImageNet, COCO 2014 or Flickr30k/5k in the XTune CLIP layout, checked",
    schedule=None,
    start_date=pendulum.datetime(2024, 10, 1, tz="UTC"),
    catchup=False,
    params={
        "dataset": Param("caltech101", type="string",
                         enum=["caltech101", "mini_imagenet", "mscoco2014", "flickr30k", "flickr5k"],
                         title="Dataset", description="Which CLIP dataset to prepare."),
        "data_root": Param("data/clip", type="string", minLength=1, pattern=r"^(?![A-Za-z][A-Za-z0-9+.-]*://)",
                           title="Data root",
                           description="Local folder ($DATA of the guide); each dataset gets its own folder."),
        "archive_url": _source("Main archive", "URL or local path. caltech101: caltech-101.zip or "
                               "101_ObjectCategories.tar.gz (default: data.caltech.edu); mscoco2014: train2014.zip "
                               "(default: images.cocodataset.org); mini_imagenet (train/ val/ test/, or images/ with split "
                               "CSVs), flickr30k, flickr5k: required."),
        "val_archive_url": _source("COCO val2014 archive", "mscoco2014 only: val2014.zip (default: "
                                   "images.cocodataset.org)."),
        "split_url": _source("Caltech101 split", "caltech101 only: split_zhou_Caltech101.json (URL or path). "
                             "Empty: generated like Dassl, seeded and reproducible."),
        "classnames_url": _source("mini-ImageNet class names", "mini_imagenet only: classnames.txt. Empty: "
                                  "written from CLIP's ImageNet class names."),
        "annotations_url": _source("Annotations", "mscoco2014: annotations_trainval2014.zip or a "
                                   "captions_train.json (default: cocodataset.org); flickr30k/flickr5k: a folder "
                                   "URL (ending in /), local folder or archive with the split JSONs (flickr30k "
                                   "default: the BLIP files)."),
        "karpathy_url": _source("COCO Karpathy JSONs", "mscoco2014 only: folder URL, local folder or archive "
                                "holding coco_karpathy_{val,test}.json (default: the BLIP files)."),
        "checksums_url": _source("Extra checksums", "Optional JSON {file name: {md5 or sha256: hex}} added "
                                 "to the repo's registry, replacing entries of the same name (mirrors, your own "
                                 "archives)."),
        "seed": Param(1, type="integer", minimum=0, title="Split seed",
                      description="Seed of the generated Caltech101 split."),
    },
    **dag_kwargs(dag_doc("clip_datasets", "clip_datasets"), ["clip", "images", "xtune"]),
) as dag:
    common = {"dataset": "{{ params.dataset }}", "data_root": "{{ params.data_root }}"}
    fetch = FetchClipDatasetOperator(
        task_id="fetch", sources={name: f"{{{{ params.{name} }}}}" for name in SOURCE_FIELDS}, **common,
    )
    annotate = AnnotateClipDatasetOperator(task_id="annotate", seed="{{ params.seed }}", **common)
    plan = PlanClipImagesOperator(task_id="plan", **common)
    check = CheckClipImagesOperator.partial(task_id="check_images", max_active_tis_per_dag=4, **common).expand(
        shard=plan.output
    )
    # none_failed: a failed check fails the run through this leaf; no shards (empty lists) still reports.
    report = ReportClipLayoutOperator(task_id="report", shards=plan.output, trigger_rule="none_failed", **common)
    fetch >> annotate >> plan >> check >> report
    # A teardown: written whatever happened upstream, without deciding the run's state.
    report >> WriteRunReportOperator(task_id="run_report", family="clip_datasets", output_root=common["data_root"],
                                     options={"dataset": "{{ params.dataset }}"}).as_teardown()
