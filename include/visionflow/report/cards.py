"""Dataset card texts of the existing families (see ``card.Card``); the list files are found at write time."""
from __future__ import annotations

from include.visionflow.report.card import Card


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


def flickr() -> Card:
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
                "subsets are named by their line count (`flickr-50k.tsv.gz`, `flickr-50.tsv.gz`).",
        lists=["lists/"],
        layout="`meta/<day>/` daily TSVs and crawl.json, `lists/` lists + MD5SUMS + memmaps, `images/...` JPEGs.",
        # one latest report per DAG (report.families.FLICKR_DAGS): they share this root
        latest=tuple(f"report-{dag}.html" for dag in ("flickr_cc_crawl", "flickr_cc_subsets", "flickr_cc_download")),
    )


def kinetics(dataset: str) -> Card:
    return Card(
        title=f"{dataset} (mmaction2 layout)",
        what="Kinetics human-action clips trimmed to their annotated 10-second windows, with an optional "
             "dense-key-frame cache, raw frames and mmaction2 file lists.",
        source="DeepMind's Kinetics annotation CSVs (train/validate/test) and the YouTube videos they name "
               "(or a URL template / local folder for mirrors).",
        licence="The annotations are CC BY 4.0 (DeepMind). The videos belong to their YouTube uploaders and "
                "are governed by YouTube's terms: use them for research, do not redistribute the clips, and "
                "cite the Kinetics paper. Failed clips are listed with reasons in `download_report.json`.",
        loading="mmaction2 config:\n```python\nann_file_train = 'kinetics400_train_list_videos.txt'  # "
                "'class/file.mp4 label'\ndata_prefix = dict(video='videos_train')\n```\n"
                "Raw frames: `*_list_rawframes.txt` (`class/stem nframes label`) with `rawframes_<split>/`.",
        lists=["annotations/", "label_map.txt", "summary.json", "download_report.json",
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
