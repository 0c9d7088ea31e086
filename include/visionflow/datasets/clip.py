"""The CLIP image datasets of the XTune guide (seed 001, formats.md 4.1): fetch and annotate.

:func:`fetch` brings each dataset's archives and annotation files into ``<data_root>/<layout root>/``:
archives are downloaded (resumable, checked against ``checksums.json``) into ``<data_root>/_downloads/`` or
used in place when given as local paths, and extracted safely and atomically (:mod:`extract`); a folder or
file that is already in place is kept, so a prepared ``data_root`` needs no URL at all. :func:`annotate`
then makes what can be derived: Caltech101's split, mini-ImageNet's ``classnames.txt``, COCO's
``captions_train.json``, the Flickr JSON names without the guide's doubled ``.json.json``. Checking every
image and the layout report are in :mod:`include.visionflow.datasets.clip_check`.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path

from include.visionflow.archives import find_members
from include.visionflow.downloads import load_registry, obtain, verify
from include.visionflow.errors import BadInputError, BadRowError
from include.visionflow.extract import extract, folder_holding, folder_named
from include.visionflow.formats import clip as fmt
from include.visionflow.inputs import local_input
from include.visionflow.paths import safe_component

log = logging.getLogger(__name__)

COCO = "http://images.cocodataset.org"
SFR = "https://storage.googleapis.com/sfr-vision-language-research/datasets/"
MAX_JSON_BYTES = 1 << 30
OFFICIAL = {
    "caltech101": {"archive_url": "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip"},
    "mscoco2014": {"archive_url": f"{COCO}/zips/train2014.zip", "val_archive_url": f"{COCO}/zips/val2014.zip",
                   "annotations_url": f"{COCO}/annotations/annotations_trainval2014.zip", "karpathy_url": SFR},
    "flickr30k": {"annotations_url": SFR},
}
WHERE = {  # inputs with no plain download: where a user gets them
    ("mini_imagenet", "archive_url"): "https://yaoyaoliu.web.illinois.edu/projects/mtl/download/ (a tar or "
                                      "zip holding train/, val/, test/ or images/ with split CSVs)",
    ("flickr30k", "archive_url"): "https://www.kaggle.com/datasets/eeshawn/flickr30k (the images zip)",
    ("flickr5k", "archive_url"): "https://www.kaggle.com/datasets/wangjilong/self-data (the images zip)",
    ("flickr5k", "annotations_url"): "https://www.kaggle.com/datasets/wangjilong/dataset-json (data/flickr5k/)",
}


@dataclass(frozen=True)
class Sources:
    """Where each input comes from: a URL or a local path; empty means the official default, if any."""

    archive_url: str = ""
    val_archive_url: str = ""
    split_url: str = ""
    classnames_url: str = ""
    annotations_url: str = ""
    karpathy_url: str = ""
    checksums_url: str = ""  # extra registry entries ({name: {md5|sha256}}), for mirrors and samples

    def resolved(self, dataset: str) -> "Sources":
        defaults = OFFICIAL.get(dataset, {})
        return replace(self, **{f.name: (getattr(self, f.name) or "").strip() or defaults.get(f.name, "")
                                for f in fields(self)})

    def need(self, dataset: str, name: str) -> str:
        value = getattr(self, name)
        if not value:
            where = WHERE.get((dataset, name), "its publisher")
            raise BadInputError(f"{dataset} needs {name}: there is no plain download; get it from {where} and "
                                f"pass its URL or local path as {name}")
        return value


def check_dataset(dataset: str) -> fmt.Tree:
    if dataset not in fmt.LAYOUTS:
        raise BadInputError(f"dataset must be one of {list(fmt.DATASETS)}, not {dataset!r}")
    return fmt.LAYOUTS[dataset]


@dataclass
class _Fetch:
    """One dataset's fetch: where things go and the checksum registry they are checked against."""

    dataset: str
    base: Path
    root: Path
    src: Sources

    @cached_property
    def registry(self) -> dict:
        """The repo's registry plus ``checksums_url``'s entries, read only when something is verified."""
        extra = _extra_checksums(self.src.checksums_url) if self.src.checksums_url else {}
        return {**load_registry(), **extra}

    @property
    def downloads(self) -> Path:
        return self.base / "_downloads" / self.dataset

    def obtain(self, param: str) -> Path:
        source = self.src.need(self.dataset, param)
        return obtain(source, self.downloads, registry=self.registry, what=f"{self.dataset} {param}")

    def caltech(self) -> None:
        images = self.root / fmt.CALTECH_IMAGES
        if not images.exists():
            archive = self.obtain("archive_url")
            if archive.name.endswith(".zip"):  # data.caltech.edu: the zip holds 101_ObjectCategories.tar.gz
                unpacked = self.downloads / "caltech-101.unzipped"
                extract(archive, unpacked, pick=folder_holding("101_ObjectCategories.tar.gz",
                                                               what="Caltech101's zip"))
                archive = unpacked / "101_ObjectCategories.tar.gz"
                verify(archive, registry=self.registry)
            extract(archive, images, pick=folder_named(fmt.CALTECH_IMAGES, "Caltech101's image tarball"))
        if self.src.split_url and not (self.root / fmt.CALTECH_SPLIT).exists():
            _copy_json(self.obtain("split_url"), self.root / fmt.CALTECH_SPLIT, dict)

    def mini_imagenet(self) -> None:
        root = self.root
        staged = root / ".splits"  # the complete, checked extraction; each split is renamed out of it
        if staged.exists() or not (root / "train").exists():
            if not staged.exists():
                extract(self.obtain("archive_url"), staged, pick=_mini_imagenet_folders)
            for split in fmt.SPLITS:
                if not (root / split).exists():
                    (staged / split).rename(root / split)
            shutil.rmtree(staged)
        if self.src.classnames_url and not (root / "classnames.txt").exists():
            _write_atomic(root / "classnames.txt", self.obtain("classnames_url").read_bytes())

    def mscoco(self) -> None:
        for name, param in (("train2014", "archive_url"), ("val2014", "val_archive_url")):
            if not (self.root / name).exists():
                extract(self.obtain(param), self.root / name, pick=folder_named(name, f"COCO's {name}.zip"))
        if not fmt.source_list(self.root, "captions_train.json").exists():  # as fetched, or rewritten
            self.coco_captions()
        self.json_files("karpathy_url", {f"coco_karpathy_{s}.json": f"coco_karpathy_{s}.json" for s in ("val", "test")})

    def coco_captions(self) -> None:
        """``captions_train.json`` given as such, or derived from ``captions_train2014.json`` (alone or in
        the official annotations zip)."""
        path = self.obtain("annotations_url")
        if path.name.endswith(".json"):
            data = _load_json(path.read_bytes(), path.name)
        else:
            found = find_members(path, lambda n: "captions" if n.endswith("captions_train2014.json") else None,
                                 MAX_JSON_BYTES)
            if "captions" not in found:
                raise BadInputError(f"{path.name} holds no annotations/captions_train2014.json; pass COCO's "
                                    "annotations_trainval2014.zip or a captions_train.json as annotations_url")
            data = _load_json(found["captions"], "captions_train2014.json")
        rows = data if isinstance(data, list) else fmt.captions_train(data)
        _write_atomic(self.root / "captions_train.json", json.dumps(rows).encode())
        log.info("captions_train.json: %s captions of %s images", len(rows), len({r["image_id"] for r in rows}))

    def flickr(self) -> None:
        images = self.root / f"{self.dataset}-images"
        if not images.exists():
            extract(self.obtain("archive_url"), images, pick=_jpeg_folder(self.dataset))
        for path in sorted(self.root.glob("*.json.json")):  # the guide's names, placed by hand
            target = self.root / fmt.flickr_json_name(path.name)
            if target.exists():
                raise BadInputError(f"both {path} and {target} exist; keep one")
            path.rename(target)
            log.info("renamed %s to %s (the loader reads single .json)", path.name, target.name)
        self.json_files("annotations_url", {f"{self.dataset}_{s}.json": f"{self.dataset}_{s}.json"
                                            for s in fmt.SPLITS})

    def json_files(self, param: str, wanted: dict[str, str]) -> None:
        """JSON lists ``wanted`` (source name -> target name; ``.json.json`` accepted for each) from a folder
        URL, a local folder or an archive, written under ``root`` unless already there."""
        todo = {name: target for name, target in wanted.items() if not fmt.source_list(self.root, target).exists()}
        if not todo:
            return
        source = self.src.need(self.dataset, param)
        if source.endswith("/") or Path(source).is_dir():
            found = self.from_folder(source, todo)
        else:
            found = find_members(self.obtain(param), lambda n: _wanted_json(n, todo), MAX_JSON_BYTES)
        missing = sorted(set(todo) - set(found))
        if missing:
            raise BadInputError(f"{self.dataset} {param} {source} lacks {missing}")
        for name, data in found.items():
            if not isinstance(_load_json(data, name), list):
                raise BadInputError(f"{name} from {source} is not a JSON list of entries")
            _write_atomic(self.root / todo[name], data)

    def from_folder(self, folder: str, todo: dict[str, str]) -> dict[str, bytes]:
        found = {}
        for name in todo:
            for candidate in (name, name + ".json"):  # the guide's doubled names
                if "://" not in folder:
                    local = local_input(folder, f"{self.dataset} folder") / candidate
                    if local.is_file():
                        found[name] = local.read_bytes()
                        break
                    continue
                try:
                    found[name] = obtain(folder + candidate, self.downloads, registry=self.registry).read_bytes()
                    break
                except BadInputError as err:
                    if "http_404" not in str(err):
                        raise
        return found


def _mini_imagenet_folders(tmp: Path) -> Path:
    """The folder holding ``train/ val/ test/``; or, for Ravi & Larochelle's release (``images/`` and
    ``{train,val,test}.csv`` of ``filename,label``), that folder with the split folders made from the CSVs."""
    try:
        return folder_holding(*fmt.SPLITS, what="mini-ImageNet")(tmp)
    except BadInputError:
        csvs = [f"{s}.csv" for s in fmt.SPLITS]
        folder = folder_holding("images", *csvs, what="mini-ImageNet (train/ val/ test/, or images/ with "
                                "train.csv, val.csv, test.csv)")(tmp)
    import csv

    for split in fmt.SPLITS:
        with open(folder / f"{split}.csv", newline="", encoding="utf-8") as fh:
            for number, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    name = safe_component(row.get("filename") or "", "filename")
                    label = safe_component(row.get("label") or "", "label")
                except BadRowError as err:
                    raise BadInputError(f"{split}.csv line {number}: {err.detail}") from None
                source = folder / "images" / name
                if not source.is_file():
                    raise BadInputError(f"{split}.csv line {number} names images/{name}, which the archive lacks")
                (folder / split / label).mkdir(parents=True, exist_ok=True)
                source.rename(folder / split / label / name)
    return folder


def _wanted_json(member: str, todo: dict[str, str]) -> str | None:
    name = fmt.flickr_json_name(member.rsplit("/", 1)[-1])
    return name if name in todo else None


def _jpeg_folder(dataset: str):
    """The images folder of a Flickr zip, whatever the uploader called it: the shallowest folder of JPEGs."""

    def pick(tmp: Path) -> Path:
        for folder in sorted([tmp, *tmp.rglob("*")], key=lambda p: (len(p.parts), str(p))):
            if folder.is_dir() and not folder.is_symlink() and next(folder.glob("*.jpg"), None):
                return folder
        raise BadInputError(f"the {dataset} archive holds no folder of .jpg images")

    return pick


def _extra_checksums(source: str) -> dict:
    if "://" in source:
        from include.visionflow.fetch.http import Fetcher

        data = Fetcher().get_json(source)
    else:
        data = _load_json(local_input(source, "checksums_url").read_bytes(), "checksums_url")
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise BadInputError(f"checksums_url {source} is not a JSON object of {{file name: {{md5|sha256: hex}}}}")
    return data


def _load_json(data: bytes, name: str):
    try:
        return json.loads(data)
    except ValueError as err:
        raise BadInputError(f"{name} is not valid JSON ({err})") from None


def _copy_json(path: Path, dest: Path, kind: type) -> None:
    if not isinstance(_load_json(path.read_bytes(), path.name), kind):
        raise BadInputError(f"{path.name} is not a JSON {kind.__name__}")
    _write_atomic(dest, path.read_bytes())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def fetch(dataset: str, data_root: str | Path, sources: Sources) -> dict:
    """Archives and annotation inputs in place under ``<data_root>/<layout root>``; returns what is there."""
    tree = check_dataset(dataset)
    base = Path(data_root)
    if str(data_root).startswith("s3://"):
        raise BadInputError("data_root must be a local folder: the trainers read the images from disk")
    root = base / tree.root
    src = sources.resolved(dataset)
    job = _Fetch(dataset, base, root, src)
    {"caltech101": job.caltech, "mini_imagenet": job.mini_imagenet, "mscoco2014": job.mscoco}.get(
        dataset, job.flickr)()
    return {"root": str(root), "entries": sorted(p.name for p in root.iterdir() if not p.name.startswith("."))}


def annotate(dataset: str, data_root: str | Path, seed: int = 1) -> dict:
    """Derive the files the loaders need that were not given; returns their names."""
    tree = check_dataset(dataset)
    root = Path(data_root) / tree.root
    made: list[str] = []
    if dataset == "caltech101" and not (root / fmt.CALTECH_SPLIT).exists():
        if not (root / fmt.CALTECH_IMAGES).is_dir():
            raise BadInputError(f"{root / fmt.CALTECH_IMAGES} is missing; fetch the archive first")
        split = fmt.caltech_split(root / fmt.CALTECH_IMAGES, seed)
        fmt.write_json(root / fmt.CALTECH_SPLIT, split)
        made.append(fmt.CALTECH_SPLIT)
        log.info("generated %s with seed %s: %s", fmt.CALTECH_SPLIT, seed, {k: len(v) for k, v in split.items()})
    if dataset == "mini_imagenet" and not (root / "classnames.txt").exists():
        wnids = [p.name for s in fmt.SPLITS if (root / s).is_dir() for p in (root / s).iterdir() if p.is_dir()]
        _write_atomic(root / "classnames.txt", fmt.classnames_text(wnids).encode())
        made.append("classnames.txt")
    return {"root": str(root), "made": made}
