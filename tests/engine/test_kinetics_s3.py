"""Kinetics and video_frames outputs on S3 (the sample source's moto server): clips, dense cache and raw
frames upload, frame folders get their completion marker, reruns reuse."""
from __future__ import annotations

from pathlib import Path

from include.visionflow.datasets import kinetics as k
from include.visionflow.datasets import kinetics_lists as kl
from include.visionflow.datasets import video_frames as vf
from include.visionflow.formats.mmaction import parse_list
from include.visionflow.storage import S3Options, open_storage
from include.visionflow.video.publish import DONE_MARKER
from include.visionflow.video.sources import VideoSource


def s3_storage(sample_source, name):
    sample_source.s3.ensure_bucket("video-test")
    options = S3Options(endpoint_url=sample_source.s3.endpoint_url, access_key="testing", secret_key="testing")
    return open_storage(f"s3://video-test/{name}", options)


def test_kinetics_on_s3(sample_source, tmp_path):
    storage = s3_storage(sample_source, f"k400-{tmp_path.name}")
    k.fetch_annotations(storage, sample_source.urls["kinetics_annotations_url"], ["val"])
    specs = k.plan(storage, "_work/s3", ["val"], limit=1)
    config = k.KineticsConfig(source=VideoSource("url_template",
                                                 url_template=sample_source.urls["kinetics_url_template"]))
    for spec in specs:
        assert k.clips_shard(storage, spec, config).ok == 1
        assert k.dense_shard(storage, spec, config).ok == 1
        assert k.rawframes_shard(storage, spec, config).ok == 1
    kl.write_lists(storage, specs, "kinetics400", 0)
    keys = set(storage.list())
    key = "abseiling/bikes000001_000005_000007"
    assert {f"videos_val/{key}.mp4", f"videos_val_256p_dense_cache/{key}.mp4",
            f"rawframes_val/{key}/img_00001.jpg", f"rawframes_val/{key}/img_00050.jpg",
            f"rawframes_val/{key}/{DONE_MARKER}"} <= keys
    frames = parse_list(storage.read_text("kinetics400_val_list_rawframes.txt"), rawframes=True)
    assert [(e.path, e.frames, e.label) for e in frames] == [(key, 50, 0)]
    assert k.rawframes_shard(storage, specs[0], config).reused == 0  # done: stored stats, nothing run
    storage.delete(k.stage_spec(specs[0], "rawframes").stats_rel)  # as if the task died before its stats
    again = k.rawframes_shard(storage, specs[0], config)
    assert again.reused == 1


def test_video_frames_on_s3(sample_source, tmp_path):
    videos = Path(sample_source.urls["video_frames_dir"]) / "krishnacam"
    storage = s3_storage(sample_source, f"frames-{tmp_path.name}")
    specs = vf.plan(storage, "_work/s3", videos)
    options = vf.frame_options(fps=2)
    assert sum(vf.extract_shard(storage, s, videos, options).ok for s in specs) == 2
    assert vf.write_filelist(storage, specs).endswith("/filelist.txt")
    assert storage.read_text("filelist.txt") == "clip 20\nrotated 11\n"
    for spec in specs:
        storage.delete(spec.stats_rel)  # as if the task died before its stats: finished videos are reused
    assert sum(vf.extract_shard(storage, s, videos, options).reused for s in specs) == 2
