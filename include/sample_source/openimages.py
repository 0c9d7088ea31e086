"""OpenImages V4 sample catalogue: metadata CSVs in the real 12-column format, real photos, fault cases,
and CVDF-style tarballs in the sample S3 bucket ``open-images-dataset`` under ``tar/``.

Routes (prefix ``/openimages``): ``/metadata/<file>.csv``, ``/images/<file>`` (plain), ``/flaky/<file>``
(429 with Retry-After once per file, then the image), ``/truncated/<file>`` (announces more bytes than it
sends), anything else 404.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path

from include.sample_source.media import color_photos, skimage_photos
from include.sample_source.server import Request, Response, SampleSource

NAME = "openimages"
COLUMNS = ["ImageID", "Subset", "OriginalURL", "OriginalLandingURL", "License", "AuthorProfileURL", "Author",
           "Title", "OriginalSize", "OriginalMD5", "Thumbnail300KURL", "Rotation"]
BUCKET = "open-images-dataset"
LICENSE = "https://creativecommons.org/licenses/by/2.0/"


@dataclass(frozen=True)
class Entry:
    """One metadata row: which variant of which photo, served how, and what the pipeline should make of it."""

    name: str
    photo: str
    variant: str = "jpeg"  # jpeg | png | rgba | palette | cmyk | exif | gray | text
    size: int = 0  # long side to scale the photo to (0 = as shipped)
    route: str = "images"  # images | flaky | truncated | missing | ftp
    subset: str = "train"
    wrong_md5: bool = False
    expect: str = "ok"


CATALOGUE = [
    Entry("astro_big", "astronaut", size=1600),
    Entry("coffee_big", "coffee", size=2400),
    Entry("chelsea", "chelsea"),
    Entry("rocket_big", "rocket", size=1800),
    Entry("moto", "motorcycle_left"),
    Entry("hubble", "hubble_deep_field"),
    Entry("retina_big", "retina", size=1500),
    Entry("astro_png", "astronaut", variant="png"),
    Entry("logo_rgba", "logo", variant="rgba"),
    Entry("coffee_palette", "coffee", variant="palette"),
    Entry("rocket_cmyk", "rocket", variant="cmyk"),
    Entry("chelsea_exif", "chelsea", variant="exif", size=1200),
    Entry("camera_gray", "camera", variant="gray"),
    Entry("moto_flaky", "motorcycle_left", route="flaky", size=1300),
    Entry("coffee_badmd5", "coffee", wrong_md5=True, expect="failed_checksum"),
    Entry("astro_404", "astronaut", route="missing", expect="failed_download"),
    Entry("rocket_trunc", "rocket", route="truncated", size=1400, expect="failed_download"),
    Entry("notanimage", "coffee", variant="text", expect="failed_decode"),
    Entry("ftp_url", "coffee", route="ftp", expect="refused"),
    Entry("val_chelsea", "chelsea", subset="validation"),
    Entry("test_coffee", "coffee", subset="test"),
]
# Boxable ("target") ids: excluded from train/extended_targets, as the real boxable set is.
BOXABLE = {"hubble", "retina_big"}


def image_id(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()[:16]


def render(entry: Entry) -> tuple[bytes, str]:
    """The bytes served for an entry, and their file extension."""
    from PIL import Image

    if entry.variant == "text":
        return b"<html>this is not an image</html>\n" * 20, "jpg"
    im = Image.open(skimage_photos()[entry.photo])
    im.load()
    if entry.size:
        scale = entry.size / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if entry.variant == "png":
        im.save(buf, "PNG")
        return buf.getvalue(), "png"
    if entry.variant == "rgba":
        im.convert("RGBA").save(buf, "PNG")
        return buf.getvalue(), "png"
    if entry.variant == "palette":
        im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(buf, "PNG")
        return buf.getvalue(), "png"
    if entry.variant == "cmyk":
        im.convert("CMYK").save(buf, "JPEG", quality=92)
        return buf.getvalue(), "jpg"
    if entry.variant == "gray":
        im.convert("L").save(buf, "JPEG", quality=92)
        return buf.getvalue(), "jpg"
    exif = None
    if entry.variant == "exif":
        # As a phone camera stores it: pixels sideways, the tag saying "turn 90 degrees clockwise to show".
        # Only a pipeline that applies the tag gets the upright photo back.
        im = im.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
    im.convert("RGB").save(buf, "JPEG", quality=92, **({"exif": exif} if exif else {}))
    return buf.getvalue(), "jpg"


def _generate(folder: Path, base_url: str) -> list[dict]:
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in CATALOGUE:
        data, ext = render(entry)
        filename = f"{entry.name}.{ext}"
        if entry.route != "missing":
            (images / filename).write_bytes(data)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        if entry.wrong_md5:
            md5 = base64.b64encode(hashlib.md5(data + b"x").digest()).decode()
        url = f"ftp://127.0.0.1/{filename}" if entry.route == "ftp" else f"{base_url}/openimages/{entry.route}/{filename}"
        rows.append({
            "ImageID": image_id(entry.name), "Subset": entry.subset, "OriginalURL": url,
            "OriginalLandingURL": f"https://www.flickr.com/photos/sample/{image_id(entry.name)}",
            "License": LICENSE, "AuthorProfileURL": "https://www.flickr.com/people/sample/",
            "Author": "visionflow sample", "Title": entry.name, "OriginalSize": str(len(data)),
            "OriginalMD5": md5, "Thumbnail300KURL": "", "Rotation": "",
        })
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _tarball(name: str, members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(f"{name}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _upload_tarballs(source: SampleSource) -> None:
    photos = list(color_photos().items())
    client = source.s3.ensure_bucket(BUCKET)
    for t, name in enumerate(["train_0", "train_1", "validation"]):
        members = {f"{image_id(f'{name}-{i}')}.jpg": photo.read_bytes() if photo.suffix == ".jpg" else
                   render(Entry(f"{name}-{i}", stem))[0] for i, (stem, photo) in enumerate(photos[t * 3:t * 3 + 3])}
        client.put_object(Bucket=BUCKET, Key=f"tar/{name}.tar.gz", Body=_tarball(name, members))


class _Handler:
    def __init__(self, folder: Path):
        self.folder = folder
        self.flaky_seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Response:
        route, _, name = req.path.strip("/").partition("/")
        if route == "metadata":
            path = self.folder / "metadata" / name
            return Response(body=path, content_type="text/csv") if path.is_file() else Response(404, b"no such file")
        path = self.folder / "images" / name
        if "/" in name or not path.is_file() or route not in ("images", "flaky", "truncated"):
            return Response(404, b"not found", content_type="text/plain")
        ctype = "image/png" if name.endswith(".png") else "image/jpeg"
        if route == "flaky":
            with self.lock:
                first = name not in self.flaky_seen
                self.flaky_seen.add(name)
            if first:
                return Response(429, b"slow down", headers={"Retry-After": "1"}, content_type="text/plain")
        if route == "truncated":
            data = path.read_bytes()
            return Response(body=data[: len(data) // 2], declared_length=len(data), content_type=ctype)
        return Response(body=path, content_type=ctype)


def mount(source: SampleSource) -> dict[str, str]:
    folder = source.data_dir / NAME
    meta = folder / "metadata"
    meta.mkdir(parents=True, exist_ok=True)
    rows = _generate(folder, source.base_url)
    _write_csv(meta / "image_ids_and_rotation.csv", rows)
    boxable_ids = {image_id(n) for n in BOXABLE}
    _write_csv(meta / "train-images-boxable-with-rotation.csv", [r for r in rows if r["ImageID"] in boxable_ids])
    (meta / "wrong_columns.csv").write_text("id,url\n1,http://example.invalid/a.jpg\n")
    if source.s3 is not None:
        _upload_tarballs(source)
    source.mount(f"/{NAME}", _Handler(folder))
    base = f"{source.base_url}/{NAME}/metadata"
    return {
        "openimages_metadata_url": f"{base}/image_ids_and_rotation.csv",
        "openimages_boxable_url": f"{base}/train-images-boxable-with-rotation.csv",
        "openimages_bad_metadata_url": f"{base}/wrong_columns.csv",
    }


def expected_statuses() -> dict[str, str]:
    """ImageID -> the status the pipeline should record (train/extended rows only)."""
    return {image_id(e.name): e.expect for e in CATALOGUE if e.subset == "train" and e.name not in BOXABLE}
