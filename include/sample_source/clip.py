"""CLIP image datasets catalogue: small real archives in each layout of the XTune guide, made from
scikit-image's photographs (cropped and scaled, so each image is different).

Files under ``<data_dir>/clip/``, served at ``/clip/...`` with HTTP ranges (``/clip/flaky/...`` cuts the first
answer for each file in half, to exercise resumed downloads; ``/clip/norange/...`` ignores ranges):

* ``caltech101/caltech-101.zip`` — as data.caltech.edu: ``caltech-101/101_ObjectCategories.tar.gz`` (classes
  with the two ignored ones, the four renamed ones and a grayscale ``car_side``) and ``Annotations.tar``;
  the tarball alone as ``caltech101/101_ObjectCategories.tar.gz`` (the guide's legacy URL);
  ``caltech101/caltech-hostile.tar.gz`` with a member that climbs out (``../../../escaped.txt``).
* ``mini_imagenet/mini-imagenet.tar.gz`` — ``mini-imagenet/{train,val,test}/<wnid>/<wnid>NNNNNNNN.jpg``;
  ``mini-imagenet-csv.zip`` — the same images as Ravi & Larochelle ship them (``images/`` + split CSVs).
* ``mscoco2014/{train2014,val2014,annotations_trainval2014}.zip`` as images.cocodataset.org has them (one
  id with more than 6 digits), ``karpathy/coco_karpathy_{val,test}.json`` (the test list names one image
  that is not in ``val2014``).
* ``flickr30k/flickr30k_images.zip`` (Kaggle's nesting) and ``flickr30k/json/flickr30k_<split>.json.json``
  (the guide's doubled names); ``flickr5k/flickr5k.zip`` and ``flickr5k/flickr5k_json.zip``.
* ``checksums.json`` — the md5 of every archive above, for the DAG's ``checksums_url``: the sample's archives
  carry the real file names, so the repo's registry (the published sums) refuses them without it.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

from include.sample_source.media import color_photos
from include.sample_source.server import Request, Response, SampleSource

NAME = "clip"
SIZE = (80, 60)
CALTECH_CLASSES = {"accordion": 5, "airplanes": 5, "Faces": 4, "Faces_easy": 4, "BACKGROUND_Google": 4,
                   "Leopards": 4, "car_side": 5}
GRAYSCALE = {"car_side"}
MINI_WNIDS = {"train": ["n01532829", "n01558993", "n01704323"], "val": ["n01855672", "n02091244"],
              "test": ["n01930112", "n01981276"]}
MINI_PER_CLASS = 3
COCO_TRAIN_IDS = [9, 25, 30, 1000001]  # 1000001: more than 6 digits, named with 12 like every COCO file
COCO_VAL_IDS = [42, 73, 74, 391895]
COCO_MISSING = "val2014/COCO_val2014_000000999999.jpg"
FLICKR_IDS = {"flickr30k": [1000092795, 10002456, 1000268201, 1000344755, 1000366164, 1000523639],
              "flickr5k": [2001, 2002, 2003, 2004, 2005]}


def _photo(index: int, gray: bool = False) -> bytes:
    """A small JPEG: photograph ``index`` (mod the set), a crop that depends on ``index``, scaled."""
    from PIL import Image

    photos = list(color_photos().values())
    with Image.open(photos[index % len(photos)]) as im:
        im = im.convert("L" if gray else "RGB")
        w, h = im.size
        shift = (index // len(photos)) * 7 % max(1, w // 4)
        im = im.crop((shift, 0, shift + w * 3 // 4, h)).resize(SIZE)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1262304000, 0o644
            tar.addfile(info, io.BytesIO(data))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, (2014, 1, 1, 0, 0, 0)), data)


def _write(path: Path, make) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{''.join(path.suffixes)}")
    make(tmp)
    os.replace(tmp, path)


def _caltech(folder: Path) -> None:
    members, n = {}, 0
    for cls, count in CALTECH_CLASSES.items():
        for i in range(1, count + 1):
            members[f"101_ObjectCategories/{cls}/image_{i:04d}.jpg"] = _photo(n, gray=cls in GRAYSCALE)
            n += 1
    _write(folder / "101_ObjectCategories.tar.gz", lambda p: _tar(p, members))
    inner = (folder / "101_ObjectCategories.tar.gz").read_bytes()
    annotations = io.BytesIO()
    with tarfile.open(fileobj=annotations, mode="w"):
        pass
    # A hostile copy: one member climbs out of the target. The DAG must refuse it and write nothing.
    _write(folder / "caltech-hostile.tar.gz", lambda p: _tar(p, {
        "101_ObjectCategories/accordion/image_0001.jpg": members["101_ObjectCategories/accordion/image_0001.jpg"],
        "101_ObjectCategories/../../../escaped.txt": b"written outside the target"}))
    _write(folder / "caltech-101.zip", lambda p: _zip(p, {
        "caltech-101/101_ObjectCategories.tar.gz": inner, "caltech-101/Annotations.tar": annotations.getvalue(),
        "caltech-101/show_annotation.m": b"% sample\n"}))


def _mini(folder: Path) -> None:
    members, n = {}, 100
    for split, wnids in MINI_WNIDS.items():
        for wnid in wnids:
            for i in range(1, MINI_PER_CLASS + 1):
                members[f"mini-imagenet/{split}/{wnid}/{wnid}{i:08d}.jpg"] = _photo(n)
                n += 1
    _write(folder / "mini-imagenet.tar.gz", lambda p: _tar(p, members))
    # Ravi & Larochelle's release: one images/ folder and a filename,label CSV per split.
    flat = {f"mini-imagenet/images/{Path(k).name}": v for k, v in members.items()}
    for split in MINI_WNIDS:
        rows = [f"{Path(k).name},{Path(k).parent.name}" for k in members if k.split("/")[1] == split]
        flat[f"mini-imagenet/{split}.csv"] = ("filename,label\n" + "\n".join(rows) + "\n").encode()
    _write(folder / "mini-imagenet-csv.zip", lambda p: _zip(p, flat))


def _coco_caption(image_id: int, k: int) -> str:
    return f"A Photo number {image_id}, caption {k}."


def _coco(folder: Path) -> None:
    train = {f"train2014/COCO_train2014_{i:012d}.jpg": _photo(200 + n) for n, i in enumerate(COCO_TRAIN_IDS)}
    val = {f"val2014/COCO_val2014_{i:012d}.jpg": _photo(300 + n) for n, i in enumerate(COCO_VAL_IDS)}
    _write(folder / "train2014.zip", lambda p: _zip(p, train))
    _write(folder / "val2014.zip", lambda p: _zip(p, val))
    anns = [{"image_id": i, "id": 100 * i + k, "caption": _coco_caption(i, k)} for i in COCO_TRAIN_IDS for k in range(2)]
    official = {"info": {"description": "sample"}, "images": [{"id": i} for i in COCO_TRAIN_IDS], "annotations": anns}
    _write(folder / "annotations_trainval2014.zip", lambda p: _zip(p, {
        "annotations/captions_train2014.json": json.dumps(official).encode(),
        "annotations/captions_val2014.json": json.dumps({"annotations": []}).encode()}))
    val_names = list(val)
    karpathy = {"val": [{"image": n, "caption": [f"val {n} {k}" for k in range(5)]} for n in val_names[:2]],
                "test": [{"image": n, "caption": [f"test {n} {k}" for k in range(5)]} for n in val_names[2:]]
                + [{"image": COCO_MISSING, "caption": ["gone"] * 5}]}
    for split, rows in karpathy.items():
        _write(folder / "karpathy" / f"coco_karpathy_{split}.json", lambda p, r=rows: p.write_text(json.dumps(r)))


def flickr_json(dataset: str) -> dict[str, list]:
    ids = FLICKR_IDS[dataset]
    image = lambda i: f"{dataset}-images/{i}.jpg"  # noqa: E731
    train = [{"image": image(i), "caption": f"photo {i} caption {k}", "image_id": n}
             for n, i in enumerate(ids[:-2]) for k in range(2)]
    return {"train": train, "val": [{"image": image(ids[-2]), "caption": [f"v{k}" for k in range(5)]}],
            "test": [{"image": image(ids[-1]), "caption": [f"t{k}" for k in range(5)]}]}


def _flickr(folder: Path) -> None:
    for dataset, ids in FLICKR_IDS.items():
        images = {f"{i}.jpg": _photo(400 + n + (50 if dataset == "flickr5k" else 0)) for n, i in enumerate(ids)}
        splits = {s: json.dumps(rows).encode() for s, rows in flickr_json(dataset).items()}
        if dataset == "flickr30k":
            _write(folder / dataset / "flickr30k_images.zip", lambda p: _zip(p, {
                **{f"flickr30k_images/flickr30k_images/{k}": v for k, v in images.items()},
                "flickr30k_images/results.csv": b"image_name| comment_number| comment\n"}))
            for s, data in splits.items():
                _write(folder / dataset / "json" / f"flickr30k_{s}.json.json", lambda p, d=data: p.write_bytes(d))
        else:
            _write(folder / dataset / "flickr5k.zip", lambda p: _zip(p, {f"flickr5k-images/{k}": v
                                                                       for k, v in images.items()}))
            _write(folder / dataset / "flickr5k_json.zip", lambda p: _zip(p, {
                f"data/flickr5k/flickr5k_{s}.json.json": d for s, d in splits.items()}))


ARCHIVES = ("caltech101/caltech-101.zip", "caltech101/101_ObjectCategories.tar.gz",
            "mini_imagenet/mini-imagenet.tar.gz", "mini_imagenet/mini-imagenet-csv.zip", "mscoco2014/train2014.zip", "mscoco2014/val2014.zip", "mscoco2014/annotations_trainval2014.zip",
            "flickr30k/flickr30k_images.zip", "flickr5k/flickr5k.zip", "flickr5k/flickr5k_json.zip")


def generate(folder: Path) -> Path:
    _caltech(folder / "caltech101")
    _mini(folder / "mini_imagenet")
    _coco(folder / "mscoco2014")
    _flickr(folder)
    sums = {Path(rel).name: {"md5": hashlib.md5((folder / rel).read_bytes()).hexdigest()} for rel in ARCHIVES}
    _write(folder / "checksums.json", lambda p: p.write_text(json.dumps(sums, indent=1, sort_keys=True)))
    return folder


class _Handler:
    """Files with HTTP ranges; under ``/flaky/`` the first answer per file stops half-way."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.cut: set[str] = set()

    def __call__(self, req: Request) -> Response:
        rel = req.path.lstrip("/")
        flaky, ranges = rel.startswith("flaky/"), not rel.startswith("norange/")
        rel = rel.removeprefix("flaky/").removeprefix("norange/")
        path = (self.folder / rel).resolve()
        if self.folder.resolve() not in path.parents or not path.is_file():
            return Response(404, b"not found", content_type="text/plain")
        data = path.read_bytes()
        ctype = "application/json" if rel.endswith(".json") else "application/octet-stream"
        start = _range_start(req.headers) if ranges else None
        if start is not None and start >= len(data):
            return Response(416, b"", headers={"Content-Range": f"bytes */{len(data)}"})
        body = data[start or 0:]
        headers = {"Accept-Ranges": "bytes" if ranges else "none"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if flaky and rel not in self.cut:
            self.cut.add(rel)
            return Response(206 if start else 200, body[: len(body) // 2], headers, ctype, declared_length=len(body))
        return Response(206 if start else 200, body, headers, ctype)


def _range_start(headers: dict[str, str]) -> int | None:
    value = next((v for k, v in headers.items() if k.lower() == "range"), "")
    if value.startswith("bytes=") and value.endswith("-") and value[6:-1].isdigit():
        return int(value[6:-1])
    return None


def mount(source: SampleSource) -> dict[str, str]:
    folder = generate(source.data_dir / NAME)
    source.mount(f"/{NAME}", _Handler(folder))
    base = f"{source.base_url}/{NAME}"
    return {
        "clip_base_url": base,
        "clip_checksums_url": f"{base}/checksums.json",
        "clip_caltech101_url": f"{base}/caltech101/caltech-101.zip",
        "clip_caltech101_tarball_url": f"{base}/caltech101/101_ObjectCategories.tar.gz",
        "clip_caltech101_hostile_url": f"{base}/caltech101/caltech-hostile.tar.gz",
        "clip_mini_imagenet_url": f"{base}/mini_imagenet/mini-imagenet.tar.gz",
        "clip_mini_imagenet_csv_url": f"{base}/mini_imagenet/mini-imagenet-csv.zip",
        "clip_coco_train_url": f"{base}/mscoco2014/train2014.zip",
        "clip_coco_val_url": f"{base}/mscoco2014/val2014.zip",
        "clip_coco_annotations_url": f"{base}/mscoco2014/annotations_trainval2014.zip",
        "clip_coco_karpathy_url": f"{base}/mscoco2014/karpathy/",
        "clip_flickr30k_url": f"{base}/flickr30k/flickr30k_images.zip",
        "clip_flickr30k_json_url": f"{base}/flickr30k/json/",
        "clip_flickr5k_url": f"{base}/flickr5k/flickr5k.zip",
        "clip_flickr5k_json_url": f"{base}/flickr5k/flickr5k_json.zip",
    }
