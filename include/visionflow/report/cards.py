"""Dataset card texts of the existing families (see ``card.Card``); the list files are found at write time."""
from __future__ import annotations

import json

from include.visionflow.formats import mmaction
from include.visionflow.report.card import Card
from include.visionflow.storage import Storage


def openimages() -> Card:
    return Card(
        title="OpenImages V4 (PRIMO split)",
        what="Images of the OpenImages V4 training set, split as in the PRIMO similarity-search paper: "
             "`train` (the first `train_size` non-boxable rows), `extended_targets` (the rest) and, when "
             "synced, the boxable `targets/` and `validation/` tarballs converted to zips. Each image was "
             "verified against its `OriginalMD5` and thumbnailed (longer side `thumbnail_size`, RGB JPEG).",
        source="`image_ids_and_rotation.csv` and `train-images-boxable-with-rotation.csv` of the 2018_04 release "
               "(storage.googleapis.com/openimages/2018_04), images from each row's `OriginalURL` (Flickr); "
               "tarballs from the CVDF bucket `s3://open-images-dataset/tar/`.",
        licence="The annotations are CC BY 4.0 (Google). Each image keeps its own licence: the metadata CSV "
                "(`metadata/image_ids_and_rotation.csv`) gives `License`, `Author`, `AuthorProfileURL` and "
                "`OriginalLandingURL` per `ImageID`. Google lists the images as CC BY 2.0 but does not "
                "verify that; **attribution duty**: when you publish or redistribute an image, credit its "
                "`Author` with a link to `OriginalLandingURL` and name the licence.",
        loading="```python\nimport glob, json\nfrom PIL import Image\nfiles = sorted(glob.glob('train/images/*/*.jpg'))"
                "  # <split>/images/<id[:2]>/<id>.jpg\nsummary = json.load(open('train/summary.json'))\n```\n"
                "Failed images and their reasons are in `_work/<run>/<split>/manifests/*.manifest.parquet` "
                "(`pyarrow.parquet.read_table`).",
        lists=["metadata/", "train/summary.json", "extended_targets/summary.json", "targets/", "validation/"],
        layout="`<split>/images/<id[:2]>/<id>.jpg`, `<split>/summary.json`, `metadata/*.csv`, "
               "`targets/*.zip`, `validation/validation.zip`.",
    )


def _flickr_naming(suffixes: dict[str, str]) -> str:
    """Which loader the downloaded images' names serve, and what each downloaded subset used."""
    text = ("Image file names follow `flickr_cc_download`'s `file_suffix`. Empty (the default): each image is "
            "exactly `<root_dir>/<local_file>`, as upstream's `download_subset.py` names it; it serves the "
            "memmap read above, visionflow's `MemmapFileList` and any loader that opens the listed names. "
            "`-256p`: `<name>-256p.jpg`, the name the paper's `MemMapImageListDataset` (continuous_ssl_problem) "
            "opens, since it rewrites `.jpg` to `-256p.jpg` in every memmap entry; set its `base_dir` to the "
            "image root. The lists and memmaps hold `local_file` either way (that loader adds the suffix itself).")
    if suffixes:
        used = "; ".join(f"`{subset}`: {f'`{sfx}`' if sfx else 'none (exact names)'}"
                         for subset, sfx in sorted(suffixes.items()))
        text += f" Suffix of the last download of each subset here (its `summary.json`): {used}."
    return text


def flickr(suffixes: dict[str, str] | None = None) -> Card:
    """:param suffixes: subset -> the ``file_suffix`` its last download used (from its summary.json)"""
    return Card(
        title="Flickr-CC (uncurated Creative-Commons Flickr images)",
        what="The uncurated Flickr image lists of 'The Challenges of Continuous Self-Supervised Learning' "
             "(ECCV'22): every CC-licensed photo uploaded on each crawled UTC day, one global shuffled list "
             "and nested prefix subsets, and the downloaded images (short side resized, RGB JPEG).",
        source="The Flickr API (`flickr.photos.search`, licences 1,2,3,4,5,6,9,10), one Openverse image TSV "
               "v001 per day in `meta/<day>/`; images from each row's URL.",
        licence="Every photo keeps its own Creative-Commons licence (`license`, `license_version` columns of "
                "`meta/<day>/flickr_images_<day>.tsv.gz`) and author (`creator`, `creator_url`, "
                "`foreign_landing_url`). **Attribution duty**: credit the creator with a link to the photo's "
                "page and the licence; respect NC (non-commercial) and ND (no derivatives) terms, which "
                "forbid commercial use and modified (e.g. resized) redistribution respectively. Flickr's API "
                "terms apply to the metadata.",
        loading="```python\nimport numpy as np\nfiles = np.memmap('lists/flickr-1M.memmap', dtype='S120', mode='r')"
                "\npath = files[0].decode()  # relative to the image root\n```\n"
                "The lists are `id \\t url \\t local_file` (gzip TSV). Subsets keep the paper's names for its "
                "sizes (`flickr-0.1M.tsv.gz` ... `flickr-500M.tsv.gz`, in millions of lines); smaller trial "
                "subsets are named by their line count (`flickr-50k.tsv.gz`, `flickr-50.tsv.gz`).\n\n"
                + _flickr_naming(suffixes or {}),
        lists=["lists/"],
        layout="`meta/<day>/` daily TSVs and crawl.json, `lists/` lists + MD5SUMS + memmaps, `images/...` JPEGs.",
        # one latest report per DAG (report.families.FLICKR_DAGS): they share this root
        latest=tuple(f"report-{dag}.html" for dag in ("flickr_cc_crawl", "flickr_cc_subsets", "flickr_cc_download")),
    )


def kinetics(dataset: str, storage: Storage) -> Card:
    """The card names the lists the run wrote, in the mmaction2 config lines that load them."""
    configs = []
    for kind in ("videos", "rawframes"):
        splits = [s for s in ("train", "val", "test") if storage.exists(mmaction.list_name(dataset, s, kind))]
        if splits:
            configs.append(f"```python\n{mmaction.mmaction_config(storage.uri('').rstrip('/'), dataset, splits, kind)}\n```")
    return Card(
        title=f"{dataset} (mmaction2 layout)",
        what="Kinetics human-action clips trimmed to their annotated 10-second windows, with an optional "
             "dense-key-frame cache, raw frames and mmaction2 file lists.",
        source="DeepMind's Kinetics annotation CSVs (train/validate/test) and the YouTube videos they name "
               "(or a URL template / local folder for mirrors).",
        licence="The annotations are CC BY 4.0 (DeepMind). The videos belong to their YouTube uploaders and "
                "are governed by YouTube's terms: use them for research, do not redistribute the clips, and "
                "cite the Kinetics paper. Failed clips are listed with reasons in `download_report.json`.",
        loading="Lines of an mmaction2 config (mmaction2 1.2 builds these datasets as they are; the dense-key-"
                "frame cache loads like the videos, with `data_prefix=dict(video=...'_dense_cache')`). Label n is "
                f"line n of `label_map.txt` (class folder names) and of `{mmaction.label_map_name(dataset)}` "
                "(the names with spaces, as mmaction2's own label map); `annotations/kinetics_*.csv` have the "
                "label column first, as mmaction2's `tools/data/parse_file_list.py` reads them (a rewritten "
                "download is kept in `annotations/original/`):\n\n"
                + "\n\n".join(configs),
        lists=["annotations/", "label_map.txt", mmaction.label_map_name(dataset), "summary.json",
               "download_report.json",
               *[f"{dataset}_{split}_list_{kind}.txt" for split in ("train", "val", "test")
                 for kind in ("videos", "rawframes")]],
    )


def video_frames() -> Card:
    return Card(
        title="Video frames at a fixed rate",
        what="JPEG frames of every video of a folder at a constant rate, one folder per video (relative "
             "paths kept), and a file list of `<relative dir> <nframes>` lines.",
        source="The videos of the `video_dir` given to the run (Kinetics-400 or Krishna-CAM in the paper).",
        licence="Frames inherit the licence of their source videos; check it before redistributing them.",
        loading="```python\nfor line in open('filelist.txt'):\n    folder, n = line.split()\n"
                "    frames = [f'{folder}/{i:05d}.jpg' for i in range(1, int(n) + 1)]\n```",
        lists=["filelist.txt"],
    )


def adaclip(dataset: str = "msrvtt", frames_dir: str = "<data_root>/frames/msrvtt") -> Card:
    """``frames_dir``: where this run wrote the frames, the value AdaCLIP's config needs."""
    return Card(
        title="AdaCLIP video-retrieval data (MSRVTT, DiDeMo, ActivityNet Captions)",
        what="JPEG frames of each video (`<frames_dir>/<video key>/image_%05d.jpg`, numbered from 1, as "
             "AdaCLIP's `utils/frame_extraction.py` names them) and the annotation splits AdaCLIP's loaders "
             "read (`annots/<dataset>/{train,val[,test]}.json`, dicts keyed by video id).",
        source="MSRVTT: CLIP4Clip's `MSRVTT_data.json` and the 9k/JSFusion CSVs; DiDeMo: LocalizingMoments "
               "`{split}_data.json` filtered by the Collaborative Experts split lists; ActivityNet Captions: "
               "`train.json` and `val_1.json` (written as `val.json`). Videos from the run's `videos_url` or "
               "`videos_dir`.",
        licence="The videos keep their owners' terms (MSRVTT and ActivityNet come from YouTube, DiDeMo from "
                "Flickr under Creative-Commons licences): research use, no redistribution of the frames, cite the "
                "datasets. The annotations keep their authors' licences.",
        loading=f"In AdaCLIP, put `annots/{dataset}/` under the repository's `annots/` and set `frames_dir` in "
                f"`configs/{dataset}.json` to the frames folder (AdaCLIP is not published as a package, so this "
                "follows its README and `datasets/`):\n```json\n" + json.dumps({"frames_dir": frames_dir})
                + "\n```\nVideos that had no frames are left out of the splits and "
                f"listed in `reports/video_retrieval_{dataset}.json`.",
        lists=["annots/"],
        layout="`annots/<dataset>/{train,val[,test]}.json`, `annots/<dataset>/report.json`, "
               "`frames/<dataset>/<video key>/image_%05d.jpg` (unless `frames_dir` is elsewhere), `reports/`.",
        latest=("report-video_retrieval-<dataset>.html",),
    )


# Dassl's dataset class names and the folder each reads under DATASET.ROOT (Dassl is not on the registry;
# its datasets/*.py: Caltech101 "caltech-101", MiniImageNet "mini-imagenet").
DASSL_NAMES = {"caltech101": "Caltech101", "mini_imagenet": "MiniImageNet"}


def clip_images(storage: Storage | None = None, dataset: str = "caltech101") -> Card:
    root = storage.uri("").rstrip("/") if storage is not None else "<this folder>"
    dassl = (f"\n\nIn a Dassl / CoOp config (CoOp's `train.py --root` sets the same):\n```yaml\nDATASET:\n  ROOT: "
             f"{json.dumps(root)}\n  NAME: {DASSL_NAMES[dataset]}\n```" if dataset in DASSL_NAMES else "")
    return Card(
        title="CLIP fine-tuning image sets (XTune)",
        what="Image classification and retrieval sets in the layouts CLIP fine-tuning code (Dassl-style "
             "loaders) reads: Caltech101 with its Zhou split, mini-ImageNet with `classnames.txt`, MSCOCO 2014 "
             "with Karpathy's splits, Flickr30k and Flickr5k; one folder per dataset under this root.",
        source="Caltech101 from CaltechDATA, MSCOCO 2014 from images.cocodataset.org, the split and caption "
               "JSONs from the URLs given to the run; each archive verified against the checksum registry "
               "(`include/visionflow/checksums.json`).",
        licence="Caltech101: research use, cite Fei-Fei et al. 2004. mini-ImageNet: ImageNet's terms "
                "(non-commercial research, no redistribution). MSCOCO: annotations CC BY 4.0, images under their "
                "Flickr owners' licences. Flickr30k: Flickr's terms, non-commercial research, cite Young et al. "
                "2014.",
        loading="Point the trainer's data root (`$DATA` in Dassl) at this folder; each dataset's loader finds "
                "its own folder (`caltech-101/`, `mini-imagenet/`, `mscoco2014/`, `flickr/`, `flickr5k/`). "
                "`layout_report.json` in each folder lists what the last run checked and anything missing."
                + dassl + "\n\n"
                "MSCOCO 2014: `captions_train.json`, `coco_karpathy_val.json` and `coco_karpathy_test.json` list "
                "only entries whose image is present and readable, because XTune's `ITC_Mscoco` (through Dassl's "
                "`Datum`) asserts that every listed file exists; `layout_report.json` counts what was left out "
                "per list and reason (`left_out`). The files as fetched are kept unchanged in "
                "`mscoco2014/originals/` (same names; a folder of their own, so nothing reading "
                "`mscoco2014/*.json` sees two copies), and each run rebuilds the lists from them. "
                "`captions_train.json` serves XTune's recipe `train2014/COCO_train2014_000000 + str(image_id) + "
                "'.jpg'`: its `image_id` is the COCO id as 6 zero-padded digits (`\"000009\"`), which that recipe "
                "turns into the real 12-digit name; ids of 7 digits or more cannot be named by it and are left "
                "out (`id_over_6_digits`). `originals/captions_train.json` keeps the integer ids of COCO's own "
                "annotations (`train2014/COCO_train2014_<id:012d>.jpg`) for other readers.",
        lists=["caltech-101/split_zhou_Caltech101.json", "mini-imagenet/classnames.txt", "mscoco2014/",
               "flickr/", "flickr5k/", "dataset_info.json"],
        layout="`caltech-101/101_ObjectCategories/<class>/*.jpg`, `mini-imagenet/{train,val,test}/<wnid>/`, "
               "`mscoco2014/{train2014,val2014}/`, `flickr/flickr30k-images/`, `flickr5k/flickr5k-images/`.",
        latest=("report-clip_datasets-<dataset>.html",),
    )


VIDEO_PATHS = {
    "absolute": "Video paths are absolute (`videos_mode` absolute): moving or cleaning the source folder breaks them.",
    "relative": "Video paths are relative to this folder (`videos_mode` relative): LLaMA-Factory resolves them "
                "with `media_dir` set to this folder; move the two folders together.",
    "link": "Videos are linked under `videos/` here (`videos_mode` link: hard links, symbolic ones across file "
            "systems) and named relative to this folder: set `media_dir` to this folder.",
}


def activitynet_qa(file_name: str, storage: Storage, videos_mode: str = "absolute") -> Card:
    """The card's command line is what a LLaMA-Factory user runs: the entry's name for ``--dataset``, this
    folder for ``--dataset_dir`` and ``--media_dir`` (where relative video paths are looked up)."""
    root, name = storage.uri("").rstrip("/"), file_name.removesuffix(".json")
    return Card(
        title="ActivityNet-QA for Qwen2-VL (LLaMA-Factory)",
        what=f"`{file_name}`: ActivityNet-QA questions joined with their answers, one sharegpt row per "
             "question with the path of its video, kept only for videos longer than the run's `seconds`. "
             + VIDEO_PATHS[videos_mode],
        source="MILVLG/activitynet-qa's `dataset/<name>.json` (questions) and `dataset/<type>_a.json` "
               "(answers), the ActivityNet videos of the run's `videos_dir`.",
        licence="ActivityNet-QA is released for research; the videos come from YouTube and keep their "
                "uploaders' terms: do not redistribute them. Cite ActivityNet-QA (Yu et al. 2019).",
        loading=f"The run merged the entry `{name}` into `dataset_info.json` here (other entries untouched). "
                "Train Qwen2-VL on it with LLaMA-Factory (0.9.5 loads it as it is):\n"
                f"```bash\nllamafactory-cli train --stage sft --do_train --model_name_or_path "
                f"Qwen/Qwen2-VL-7B-Instruct --template qwen2_vl \\\n    --dataset {name} --dataset_dir {root} "
                f"--media_dir {root} \\\n    --finetuning_type lora --output_dir saves/qwen2_vl-{name}\n```\n"
                f"or in a training YAML: `dataset: {name}`, `dataset_dir: {root}`, `media_dir: {root}`.",
        lists=[file_name, "dataset_info.json"],
        latest=("report-activitynet_qa.html",),
    )
