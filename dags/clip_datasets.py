"""
### CLIP image datasets (Intel XTune guide: Caltech101, mini-ImageNet, MSCOCO 2014, Flickr30k, Flickr5k)

Prepares one `dataset` under `data_root` (a local folder) in the layout XTune's CLIP loaders read:

| dataset | layout under `data_root` |
|---|---|
| caltech101 | `caltech-101/101_ObjectCategories/<class>/*.jpg`, `caltech-101/split_zhou_Caltech101.json` |
| mini_imagenet | `mini-imagenet/{train,val,test}/<wnid>/*`, `mini-imagenet/classnames.txt` |
| mscoco2014 | `mscoco2014/{train2014,val2014}/`, `captions_train.json`, `coco_karpathy_{val,test}.json` |
| flickr30k | `flickr/flickr30k-images/*.jpg`, `flickr/flickr30k_{train,val,test}.json` |
| flickr5k | `flickr5k/flickr5k-images/*.jpg`, `flickr5k/flickr5k_{train,val,test}.json` |

1. **fetch** — archives are downloaded into `data_root/_downloads/<dataset>/` (resumed after a cut, checked
   against the md5/sha256 registry kept in the repo, `include/visionflow/checksums.json`; a file it does not know
   is accepted with a warning) or used in place when given as local paths, then extracted safely (absolute
   paths, `..`, links out of the folder, devices, FIFOs, duplicates and bombs refused, naming the member) into a
   temporary folder that is renamed into place when complete. What is already in place is kept.
2. **annotate** — derives what was not given: Caltech101's split is made as Dassl makes it (ignored classes,
   renames, 50/20/30 per class with Python's rounding, same JSON formatting) but over **sorted** file names with
   `seed`, so it is reproducible (upstream's is not); `classnames.txt` from CLIP's ImageNet class names for the
   wnids present; COCO's `captions_train.json` from the official `captions_train2014.json`; Flickr's doubled
   `.json.json` names become `.json`.
3. **plan / check** — every image the lists name is checked (exists, safe path, opens) over shards; COCO train
   images are `COCO_train2014_<id padded to 12 digits>.jpg`.
4. **report** — `<dataset folder>/layout_report.json`: images per split, missing files with examples, the
   expected tree; for caltech101 the `dataset_info.json` entry the trainer reads. The run fails when the tree is
   incomplete; listed images that are missing are reported, not fatal. For mscoco2014 the lists are rewritten
   so that XTune's loader (which asserts every file exists) reads them whole: entries whose image failed the
   check are left out (`left_out` in the report), `captions_train.json` holds each id as 6 zero-padded digits
   for XTune's `COCO_train2014_000000` + id recipe; the files as fetched stay in `mscoco2014/originals/`.
   **run_report**: images per split and per class folder, sizes, a contact sheet, in
   `data_root/reports/clip_datasets/<run>/report.html` (the latest also as
   `data_root/report-clip_datasets-<dataset>.html`; a failed fetch leaves no dataset folder).

Inputs that live only behind Kaggle or Google Drive (mini-ImageNet, the Flickr images and Flickr5k JSONs) must
be given as a URL or a local path; when missing, the error says where to get them. Unscheduled: trigger it.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from visionflow_airflow.common import dag_kwargs
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
    **dag_kwargs(__doc__, ["clip", "images", "xtune"]),
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
