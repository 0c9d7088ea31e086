"""openimages_v4 end to end with Airflow's dag.test() against the sample source (HTTP + moto S3)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from include.sample_source.openimages import BUCKET, expected_statuses
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import ShardSpec
from include.visionflow.storage import S3Options, open_storage

ROOT = Path(__file__).resolve().parents[2]
TRAIN_SIZE = 8


@pytest.fixture
def dag():
    # A fresh DAG object per test: dag.test() resolves run_conf into the DAG's params in place.
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "openimages.py")).get_dag("openimages_v4")


@pytest.fixture
def source_conn(sample_source, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OPENIMAGES_S3", sample_source.s3.connection_json())


def conf(sample_source, output_root, **extra):
    return {"metadata_url": sample_source.urls["openimages_metadata_url"],
            "boxable_url": sample_source.urls["openimages_boxable_url"],
            "output_root": str(output_root), "train_size": TRAIN_SIZE, "tarballs": False, **extra}


def statuses(storage, dr):
    ti = next(t for t in dr.get_task_instances() if t.task_id == "plan_shards")
    specs = [ShardSpec.from_xcom(s) for s in ti.xcom_pull(task_ids="plan_shards")]
    return {r.key: r for s in specs for r in read_manifest(storage, s.manifest_rel)}


def image_hits(sample_source):
    return {p: n for p, n in sample_source.hits.items() if "/openimages/" in p and "/metadata/" not in p}


def test_full_run_counts_every_failure_and_rerun_fetches_nothing_new(airflow_db, dag, sample_source,
                                                                      source_conn, tmp_path):
    out = tmp_path / "oi"
    dr = dag.test(run_conf=conf(sample_source, out, tarballs=True))
    assert dr.state == "success"
    storage = open_storage(str(out))
    rows = statuses(storage, dr)
    assert {k: r.status.value for k, r in rows.items()} == expected_statuses()
    reasons = {r.reason for r in rows.values()}
    assert {"md5_mismatch", "http_404", "truncated", "not_an_image", "refused_address"} <= reasons
    ok = [r for r in rows.values() if r.status.value == "ok"]
    for r in ok:
        path = out / r.output
        assert path.is_file() and max(r.width, r.height) <= 1024
        assert r.output.startswith(("train/images/", "extended_targets/images/"))
        assert r.output.split("/")[2] == r.key[:2]
    summary = json.loads((out / "train" / "summary.json").read_text())
    assert summary["items"] == TRAIN_SIZE and summary["counts"]["ok"] == TRAIN_SIZE
    ext = json.loads((out / "extended_targets" / "summary.json").read_text())
    assert ext["counts"]["failed_download"] == 2 and ext["counts"]["refused"] == 1
    # tarballs: converted to zips with the same members, tarballs removed
    assert sorted(p.name for p in (out / "targets").iterdir()) == ["train_0.zip", "train_1.zip"]
    assert [p.name for p in (out / "validation").iterdir()] == ["validation.zip"]
    with zipfile.ZipFile(out / "targets" / "train_0.zip") as zf:
        assert len(zf.namelist()) == 3 and all(n.startswith("train_0/") for n in zf.namelist())

    before = image_hits(sample_source)
    dr2 = dag.test(run_conf=conf(sample_source, out, tarballs=True))
    assert dr2.state == "success"
    after = image_hits(sample_source)
    refetched = {p for p in after if after[p] != before.get(p)}
    ok_files = {Path(r.output).stem for r in ok}
    assert not any(Path(p).stem in {k for k in ok_files} for p in refetched)
    rerun = statuses(storage, dr2)
    assert all(r.reused for r in rerun.values() if r.status.value == "ok")


def test_unreadable_metadata_fails_early_without_retries(airflow_db, dag, sample_source, tmp_path):
    bad = {**conf(sample_source, tmp_path / "bad"), "metadata_url": sample_source.urls["openimages_bad_metadata_url"]}
    dr = dag.test(run_conf=bad)
    assert dr.state == "failed"
    states = {t.task_id: t.state for t in dr.get_task_instances()}
    assert states["fetch_metadata"] == "failed"
    assert states["plan_shards"] in ("upstream_failed", None)
    assert not (tmp_path / "bad" / "train").exists()


def test_output_on_s3(airflow_db, dag, sample_source, s3_conn_env, tmp_path):
    s3_conn_env.ensure_bucket("vf-out")
    dr = dag.test(run_conf=conf(sample_source, f"s3://vf-out/{tmp_path.name}", splits=["train"]))
    assert dr.state == "success"
    options = S3Options(endpoint_url=s3_conn_env.endpoint_url, access_key="testing", secret_key="testing")
    storage = open_storage(f"s3://vf-out/{tmp_path.name}", options)
    keys = list(storage.list("train"))
    assert len([k for k in keys if k.endswith(".jpg")]) == TRAIN_SIZE
    assert json.loads(storage.read_text("train/summary.json"))["counts"]["ok"] == TRAIN_SIZE
    assert BUCKET != "vf-out"
