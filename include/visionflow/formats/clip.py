"""The CLIP image datasets of the XTune guide (formats.md 4.1): layouts, Dassl's Caltech101 split, the
mini-ImageNet class names, COCO and Flickr caption files.

* Caltech101's ``split_zhou_Caltech101.json`` is made as Dassl's ``read_and_split_data`` makes it (classes =
  sorted folders minus ``BACKGROUND_Google`` and ``Faces_easy``, label = index, four renames of the class
  name only, per class a shuffle then ``round(0.5 n)`` train / ``round(0.2 n)`` val / the rest test, Python's
  rounding, ``[relpath, label, classname]`` triples, ``indent=4``) with one difference: upstream shuffles an
  unsorted ``os.listdir`` with the global RNG, so its split cannot be made again; here each class's file names
  are sorted first and one ``random.Random(seed)`` shuffles the classes in label order: the same folder and
  seed always give the same file.
* ``clip_imagenet_classnames.txt`` (next to this module) holds CLIP's ImageNet class names (the prompt
  engineering notebook, as shipped in open_clip's ``zero_shot_metadata.IMAGENET_CLASSNAMES``) keyed by the
  sorted ImageNet-1k wnids (timm's ``imagenet_synsets.txt``): the source of mini-ImageNet's ``classnames.txt``.
* COCO training images are ``train2014/COCO_train2014_<id zero-padded to 12 digits>.jpg``. XTune's loader
  (``ITC_Mscoco.read_train_data``) builds ``"train2014/COCO_train2014_000000" + str(image_id) + ".jpg"``,
  right only when ``str(image_id)`` has 6 characters: the guide's ``captions_train.json`` (the official
  annotations) holds integer ids, so ``9`` becomes ``COCO_train2014_0000009.jpg``, which does not exist.
  The ``captions_train.json`` written for it holds each id as 6 zero-padded digits (``"000009"``), which that
  recipe turns into the real name; an id of 7 digits or more cannot be named by it at all.
* The lists a Dassl loader reads must name existing files only (``Datum`` asserts each one): the written
  ones leave out entries whose image failed the check; the files as fetched stay in ``originals/``
  (same names, a folder of their own so nothing that reads or globs ``mscoco2014/*.json`` finds two copies).
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from include.visionflow.errors import BadInputError

DATASETS = ("caltech101", "mini_imagenet", "mscoco2014", "flickr30k", "flickr5k")
CALTECH_IGNORED = ("BACKGROUND_Google", "Faces_easy")
CALTECH_RENAMES = {"airplanes": "airplane", "Faces": "face", "Leopards": "leopard", "Motorbikes": "motorbike"}
CALTECH_SPLIT = "split_zhou_Caltech101.json"
CALTECH_IMAGES = "101_ObjectCategories"
SPLITS = ("train", "val", "test")
CLASSNAMES = Path(__file__).with_name("clip_imagenet_classnames.txt")
_WNID = re.compile(r"^n\d{8}$")


@dataclass(frozen=True)
class Folder:
    """An expected folder and how many entries matching ``pattern`` it must hold at least."""

    rel: str
    pattern: str
    min_count: int = 1


@dataclass(frozen=True)
class Tree:
    """What one dataset's folder under ``data_root`` must hold after preparation."""

    root: str
    folders: tuple[Folder, ...]
    json_files: tuple[str, ...] = ()
    text_files: tuple[str, ...] = ()


def _flickr(name: str, root: str) -> Tree:
    return Tree(root, (Folder(f"{name}-images", "*.jpg"),), tuple(f"{name}_{s}.json" for s in SPLITS))


LAYOUTS: dict[str, Tree] = {
    "caltech101": Tree("caltech-101", (Folder(CALTECH_IMAGES, "*/*.jpg"),), (CALTECH_SPLIT,)),
    "mini_imagenet": Tree("mini-imagenet", tuple(Folder(s, "n*/*") for s in SPLITS), (), ("classnames.txt",)),
    "mscoco2014": Tree("mscoco2014", (Folder("train2014", "*.jpg"), Folder("val2014", "*.jpg")),
                       ("captions_train.json", "coco_karpathy_val.json", "coco_karpathy_test.json")),
    "flickr30k": _flickr("flickr30k", "flickr"),
    "flickr5k": _flickr("flickr5k", "flickr5k"),
}


def check_tree(base: Path, tree: Tree) -> dict:
    """``{"counts": {folder: n}, "missing": [what is absent or too small]}`` for ``base/tree.root``."""
    root = base / tree.root
    counts: dict[str, int] = {}
    missing: list[str] = []
    for folder in tree.folders:
        path = root / folder.rel
        counts[folder.rel] = sum(1 for _ in path.glob(folder.pattern)) if path.is_dir() else 0
        if not path.is_dir():
            missing.append(f"{tree.root}/{folder.rel}/ (folder)")
        elif counts[folder.rel] < folder.min_count:
            missing.append(f"{tree.root}/{folder.rel}/{folder.pattern} (has {counts[folder.rel]}, needs "
                           f"{folder.min_count})")
    for name in tree.json_files:
        path = root / name
        if not path.is_file():
            missing.append(f"{tree.root}/{name}")
            continue
        try:
            json.loads(path.read_bytes())
        except ValueError as err:
            missing.append(f"{tree.root}/{name} (not valid JSON: {err})")
    missing += [f"{tree.root}/{n}" for n in tree.text_files if not (root / n).is_file()]
    return {"counts": counts, "missing": missing}


def write_json(path: Path, data) -> None:
    """Dassl's ``write_json`` formatting, written atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=4, separators=(",", ": ")))
    tmp.replace(path)


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def caltech_split(image_dir: Path, seed: int = 1, p_train: float = 0.5, p_val: float = 0.2) -> dict:
    """Dassl's split of ``101_ObjectCategories`` over sorted names with ``random.Random(seed)``."""
    rng = random.Random(seed)
    classes = [c for c in _visible(image_dir) if c not in CALTECH_IGNORED and (image_dir / c).is_dir()]
    split: dict[str, list] = {s: [] for s in SPLITS}
    for label, folder in enumerate(classes):
        images = [f"{folder}/{name}" for name in _visible(image_dir / folder)]
        rng.shuffle(images)
        n_train, n_val = round(len(images) * p_train), round(len(images) * p_val)
        if n_train == 0 or n_val == 0 or len(images) - n_train - n_val == 0:
            raise BadInputError(f"{image_dir}/{folder} has {len(images)} images: too few for a train/val/test "
                                "split (Dassl needs every part non-empty, so at least 4)")
        name = CALTECH_RENAMES.get(folder, folder)
        parts = {"train": images[:n_train], "val": images[n_train:n_train + n_val],
                 "test": images[n_train + n_val:]}
        for part, paths in parts.items():
            split[part] += [[path, label, name] for path in paths]
    return split


@lru_cache(maxsize=1)
def clip_imagenet_names() -> dict[str, str]:
    names = {}
    for line in CLASSNAMES.read_text().splitlines():
        wnid, _, name = line.partition(" ")
        names[wnid] = name
    return names


def classnames_text(wnids: list[str]) -> str:
    """``<wnid> <CLIP name>`` lines for the given wnids, sorted; an unknown wnid is an error naming it."""
    names = clip_imagenet_names()
    unknown = sorted(w for w in set(wnids) if w not in names)
    if unknown:
        raise BadInputError(f"class folders {unknown[:5]} are not ImageNet-1k wnids, so CLIP has no name for "
                            "them; pass classnames_url with a '<wnid> <name>' file")
    return "".join(f"{w} {names[w]}\n" for w in sorted(set(wnids)))


def is_wnid(name: str) -> bool:
    return bool(_WNID.match(name))


def coco_train_image(image_id: int) -> str:
    return f"train2014/COCO_train2014_{int(image_id):012d}.jpg"


def listed_image(entry) -> str:
    """The image of a Karpathy/Flickr list entry (``""`` when it names none: the check counts a bad row)."""
    return str(entry.get("image", "")) if isinstance(entry, dict) else ""


def caption_row_image(row) -> str:
    """The training image of a ``captions_train.json`` row (``""`` when it has no usable id)."""
    try:
        return coco_train_image(row["image_id"])
    except (KeyError, TypeError, ValueError):
        return ""


ORIGINALS = "originals"
COCO_LISTS = {"captions_train.json": "train", "coco_karpathy_val.json": "val", "coco_karpathy_test.json": "test"}
XTUNE_TRAIN_PREFIX = "train2014/COCO_train2014_000000"


def xtune_train_image(image_id) -> str:
    """The training image path XTune's ``ITC_Mscoco`` builds from a ``captions_train.json`` row's id."""
    return XTUNE_TRAIN_PREFIX + str(image_id) + ".jpg"


def xtune_image_id(image_id) -> str | None:
    """The id as XTune's recipe needs it to name ``coco_train_image(image_id)``: 6 zero-padded digits; None
    for an id the recipe cannot name (7 digits or more)."""
    number = int(image_id)
    return f"{number:06d}" if 0 <= number < 10 ** 6 else None


def source_list(root: Path, name: str) -> Path:
    """A list as fetched: ``originals/<name>`` once a run rewrote ``<name>``, else ``<name>`` itself."""
    kept = root / ORIGINALS / name
    return kept if kept.is_file() else root / name


def captions_train(official: dict) -> list[dict]:
    """``captions_train.json`` from the official ``captions_train2014.json``: its annotations as
    ``{"image_id", "caption"}`` rows, in file order."""
    rows = official.get("annotations") if isinstance(official, dict) else None
    if not isinstance(rows, list):
        raise BadInputError("captions_train2014.json has no 'annotations' list; is it the COCO captions file?")
    try:
        return [{"image_id": int(r["image_id"]), "caption": str(r["caption"])} for r in rows]
    except (KeyError, TypeError, ValueError) as err:
        raise BadInputError(f"captions_train2014.json has an annotation without a usable image_id/caption "
                            f"({err!r})") from None


def flickr_json_name(name: str) -> str:
    """The guide's doubled ``flickr30k_train.json.json`` is the loader's ``flickr30k_train.json``."""
    return name[: -len(".json")] if name.endswith(".json.json") else name
