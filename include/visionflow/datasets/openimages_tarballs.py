"""OpenImages CVDF tarballs: sync ``train_*.tar.gz`` / ``validation.tar.gz`` from S3, convert each to zip.

``train_*`` land in ``<root>/targets/``, ``validation`` in ``<root>/validation/``. A tarball is downloaded
next to its destination (resumable: a complete one is not fetched again), converted to ``<name>.zip`` with
the same members, verified, and only then removed. A finished zip marks the tarball done.
"""
from __future__ import annotations

import fnmatch
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from include.visionflow.archives import tar_to_zip
from include.visionflow.errors import BadInputError
from include.visionflow.storage import S3Options, Storage

log = logging.getLogger(__name__)

SOURCE_BUCKET = "open-images-dataset"
SOURCE_PREFIX = "tar/"
DEFAULT_GLOBS = ("train_*.tar.gz", "validation.tar.gz")


@dataclass(frozen=True)
class TarballResult:
    key: str
    zip: str
    members: int
    bytes: int
    reused: bool

    def to_xcom(self) -> dict:
        return asdict(self)


def destination_dir(name: str) -> str:
    return "validation" if name.startswith("validation") else "targets"


def list_tarballs(source: S3Options, globs: list[str] | tuple[str, ...] = DEFAULT_GLOBS,
                  bucket: str = SOURCE_BUCKET, prefix: str = SOURCE_PREFIX) -> list[str]:
    """Keys under ``s3://bucket/prefix`` whose file name matches any glob, sorted."""
    client = source.client()
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if any(fnmatch.fnmatch(name, g) for g in globs):
                keys.append(obj["Key"])
    if not keys:
        log.warning("no tarball in s3://%s/%s matches %s", bucket, prefix, list(globs))
    return sorted(keys)


def sync_tarball(source: S3Options, key: str, storage: Storage, bucket: str = SOURCE_BUCKET) -> TarballResult:
    name = key.rsplit("/", 1)[-1]
    if not name.endswith((".tar.gz", ".tgz", ".tar")):
        raise BadInputError(f"{key} is not a tarball (.tar.gz/.tgz/.tar); check tarball_glob")
    stem = name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar")
    folder = destination_dir(name)
    zip_rel, tar_rel = f"{folder}/{stem}.zip", f"{folder}/{name}"
    if storage.exists(zip_rel):
        return TarballResult(key, storage.uri(zip_rel), 0, storage.size(zip_rel) or 0, reused=True)
    client = source.client()
    remote_size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    if storage.size(tar_rel) != remote_size:
        with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
            local = Path(tmp, name)
            client.download_file(bucket, key, str(local))
            if local.stat().st_size != remote_size:
                raise BadInputError(f"s3://{bucket}/{key}: got {local.stat().st_size} of {remote_size} bytes")
            storage.put_file(tar_rel, local)
    with storage.local_copy(tar_rel) as tar_local, tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        result = tar_to_zip(tar_local, Path(tmp, f"{stem}.zip"))
        storage.put_file(zip_rel, result.zip_path)
    storage.delete(tar_rel)  # only now: the zip is verified and in place
    log.info("%s -> %s (%s members)", key, storage.uri(zip_rel), result.members)
    return TarballResult(key, storage.uri(zip_rel), result.members, result.bytes, reused=False)
