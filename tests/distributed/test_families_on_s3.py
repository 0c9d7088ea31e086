"""Every family with its output root on S3 (the sample source's moto server), run by dag.test(): whatever one
task hands to the next (shards, manifests, clips, day TSVs, lists) lives under the output root, so any worker
of a cluster can run any task. Video inputs stay local folders where a family reads a user's own videos
(``video_frames``' ``video_dir``; ``kinetics``' ``local_dir`` source); openimages_v4 on S3 is covered by
tests/dags/test_openimages.py and the Celery cluster test."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from include.visionflow.manifest import read_manifest
from include.visionflow.shards import ShardSpec
from include.visionflow.storage import S3Options, open_storage

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "vf-families"


def dag_of(module: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / module)).get_dag(dag_id)


def xcom(dr, task_id):
    ti = next(t for t in dr.get_task_instances() if t.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


@pytest.fixture
def s3_root(sample_source, s3_conn_env, tmp_path):
    """(uri, storage) of a fresh prefix in the bucket; ``aws_default`` points at moto."""
    s3_conn_env.ensure_bucket(BUCKET)
    uri = f"s3://{BUCKET}/{tmp_path.name}"
    options = S3Options(endpoint_url=s3_conn_env.endpoint_url, access_key="testing", secret_key="testing")
    return uri, open_storage(uri, options)


@pytest.mark.slow
def test_flickr_crawl_subsets_download_on_s3(airflow_db, sample_source, s3_root, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FLICKR_DEFAULT", sample_source.urls["flickr_conn_json"])
    uri, storage = s3_root
    day = "2021-06-01"
    crawl = dag_of("flickr_cc.py", "flickr_cc_crawl").test(
        run_conf={"date": day, "output_root": uri, "reprocess": False, "strategy": "walk"})
    assert crawl.state == "success"
    assert storage.exists(f"meta/{day}/done")
    subsets = dag_of("flickr_cc.py", "flickr_cc_subsets").test(
        run_conf={"output_root": uri, "sizes": [0.00002], "seed": 0})
    assert subsets.state == "success"
    conf = {"output_root": uri, "subset": "flickr-20.tsv.gz", "root_dir": "", "short_side": 64, "quality": 75,
            "parallelism": 2, "min_shard_rows": 1000}
    dr = dag_of("flickr_cc.py", "flickr_cc_download").test(run_conf=conf)
    assert dr.state == "success"
    specs = [ShardSpec.from_xcom(s) for s in xcom(dr, "plan_shards")]
    assert len(specs) == 2  # 20 lines, parallelism 2: both workers of a pair get one
    rows = [r for s in specs for r in read_manifest(storage, s.manifest_rel)]
    assert len(rows) == 20 and all(r.status.value == "ok" and storage.exists(r.output) for r in rows)
    listed = gzip.decompress(storage.read_bytes("lists/flickr-20.tsv.gz")).decode().splitlines()
    assert sorted(r.output for r in rows) == sorted(line.split("\t")[2] for line in listed)
    assert storage.exists("lists/flickr-20.memmap")


@pytest.mark.slow
def test_kinetics_on_s3(airflow_db, sample_source, s3_root):
    uri, storage = s3_root
    conf = {"dataset": "kinetics400", "annotations_url": sample_source.urls["kinetics_annotations_url"],
            "video_source": "url_template", "url_template": sample_source.urls["kinetics_url_template"],
            "local_dir": "", "splits": ["val"], "output_root": uri, "short_side": 128, "dense": True,
            "frames": True, "limit": 2, "seed": 0}
    dr = dag_of("kinetics.py", "kinetics").test(run_conf=conf)
    assert dr.state == "success"
    keys = set(storage.list())
    clips = {k for k in keys if k.startswith("videos_val/") and k.endswith(".mp4")}
    assert clips
    for clip in clips:
        stem = clip[len("videos_val/"):-len(".mp4")]
        assert f"videos_val_128p_dense_cache/{stem}.mp4" in keys
        assert f"rawframes_val/{stem}/img_00001.jpg" in keys
    assert {"kinetics400_val_list_videos.txt", "kinetics400_val_list_rawframes.txt", "summary.json",
            "download_report.json"} <= keys


@pytest.mark.slow
def test_video_frames_to_s3_from_a_local_folder(airflow_db, sample_source, s3_root):
    uri, storage = s3_root
    videos = Path(sample_source.urls["video_frames_dir"])
    conf = {"video_dir": str(videos), "frames_dir": uri, "fps": 2, "short_side": 64, "pattern": "%05d.jpg",
            "quality": 80, "filelist": ""}
    dr = dag_of("video_frames.py", "video_frames").test(run_conf=conf)
    assert dr.state == "success"
    lines = storage.read_text("filelist.txt").splitlines()
    assert [line.split()[0] for line in lines] == ["k400/abseiling/clip", "k400/air_drumming/clip",
                                                   "krishnacam/clip", "krishnacam/rotated"]
    for line in lines:
        folder, count = line.split()
        assert storage.exists(f"{folder}/{int(count):05d}.jpg")
