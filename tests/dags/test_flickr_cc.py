"""The Flickr-CC DAGs end to end with dag.test() against the sample source's Flickr emulator."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from include.sample_source import flickr_api as fa
from include.visionflow.datasets.flickr_layout import DayLayout
from include.visionflow.formats.memmap import MemmapFileList
from include.visionflow.manifest import read_manifest
from include.visionflow.shards import ShardSpec
from include.visionflow.sources.base import Dropped
from include.visionflow.sources.flickr import DEFAULT_LICENSE_IDS, FlickrMapper
from include.visionflow.sources.flickr_api import SearchQuery
from include.visionflow.sources.timeslice import Slice
from include.visionflow.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]
API = f"{fa.PREFIX}/services/rest"


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "flickr_cc.py"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def flickr_conn(sample_source, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FLICKR_DEFAULT", sample_source.urls["flickr_conn_json"])


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("flickr_cc")


def xcom(dr, task_id):
    ti = next(t for t in dr.get_task_instances() if t.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


def asset_event_extras(name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                               .where(AssetModel.name == name)).all()
        return [dict(e.extra or {}) for e in rows]


def day_ids(root, day) -> list[str]:
    with gzip.open(root / DayLayout(day).tsv, "rt", encoding="utf-8") as fh:
        return [line.split("\t", 1)[0] for line in fh]


def test_dags_are_declared_as_the_issue_asks(dags):
    from airflow.sdk import CronDataIntervalTimetable

    assert {"flickr_cc_crawl", "flickr_cc_subsets", "flickr_cc_download"} <= set(dags.dag_ids)
    crawl = dags.dags["flickr_cc_crawl"]
    assert isinstance(crawl.timetable, CronDataIntervalTimetable) and not crawl.catchup
    assert crawl.start_date == datetime(2004, 1, 1, tzinfo=timezone.utc)
    assert crawl.get_task("crawl_day").pool == "flickr_api"
    assert crawl.params["output_root"] == "data/flickr_cc" and crawl.params["date"] is None
    pools = json.loads((ROOT / "include" / "pools.json").read_text())
    assert pools["flickr_api"]["slots"] >= 1
    download = dags.dags["flickr_cc_download"]
    assert download.params["short_side"] == 256 and download.params["quality"] == 75
    order = [t.task_id for t in download.topological_sort()]
    assert order[-2:] == ["convert_to_mmap", "report"]  # the run report (a teardown) comes last


def test_crawl_of_the_dense_day_is_complete_without_duplicates(airflow_db, dags, sample_source, flickr_conn, out):
    dag = dags.dags["flickr_cc_crawl"]
    before = sample_source.hits[API]
    dr = dag.test(run_conf={"date": fa.DENSE_DAY, "output_root": str(out)})
    assert dr.state == "success"
    cat = fa.build_catalogue(sample_source.base_url)
    mapper, by_id = FlickrMapper(), cat.by_id
    expected = {i for i in fa.expected_ids(cat, fa.DENSE_DAY, DEFAULT_LICENSE_IDS)
                if not isinstance(mapper(by_id[i]), Dropped)}
    ids = day_ids(out, fa.DENSE_DAY)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert (out / DayLayout(fa.DENSE_DAY).done).exists()
    result = xcom(dr, "crawl_day")
    assert result["rows"] == len(ids) and result["requests"] == sample_source.hits[API] - before
    assert fa.API_KEY not in json.dumps(result)
    assert asset_event_extras(f"flickr_cc/{fa.DENSE_DAY}") == [{"day": fa.DENSE_DAY, "rows": len(ids)}]
    # The three Flickr DAGs share this root: each keeps its own latest report, none is called report.html.
    assert f"Flickr-CC crawl of {fa.DENSE_DAY}" in (out / "report-flickr_cc_crawl.html").read_text()
    assert not (out / "report.html").exists()

    again = dag.test(run_conf={"date": fa.DENSE_DAY, "output_root": str(out)})
    assert again.state == "success" and xcom(again, "crawl_day")["skipped"]
    assert sample_source.hits[API] - before == result["requests"]  # a done day costs no request


def test_scheduled_run_crawls_its_data_interval(airflow_db, dags, sample_source, flickr_conn, out):
    dag = dags.dags["flickr_cc_crawl"]
    # A manual run at 2021-06-03 gets the last complete interval, [2021-06-02, 2021-06-03): that day is crawled,
    # as a scheduled or backfill run for 2021-06-02 would.
    # (date: None explicitly: dag.test() in one process keeps the previous test's conf in the DAG's params.)
    dr = dag.test(logical_date=datetime(2021, 6, 3, tzinfo=timezone.utc),
                  run_conf={"output_root": str(out), "date": None})
    assert dr.state == "success"
    assert dr.data_interval_start.date().isoformat() == "2021-06-02"
    assert xcom(dr, "crawl_day")["day"] == "2021-06-02"
    assert len(day_ids(out, "2021-06-02")) == xcom(dr, "crawl_day")["rows"] > 0


def build_lists(dags, out):
    """Lists from the two days crawled by the tests above (same output root; crawled here if a test runs
    alone)."""
    from include.visionflow.datasets.flickr import crawl_day
    from visionflow_airflow.hooks.flickr import FlickrHook

    for day in (fa.DENSE_DAY, "2021-06-02"):
        crawl_day(FlickrHook().get_conn(), open_storage(str(out)), day)  # a no-op for days already done
    subsets = dags.dags["flickr_cc_subsets"].test(
        run_conf={"output_root": str(out), "sizes": [0.0001, 0.5], "seed": 7})
    assert subsets.state == "success"
    return subsets


def download_conf(out, **extra) -> dict:
    """The download params that differ between tests, spelled out: dag.test() in one process can carry a
    previous run's conf over."""
    return {"output_root": str(out), "subset": "flickr-100.tsv.gz", "root_dir": "", "file_suffix": "", **extra}


@pytest.mark.slow
def test_subsets_then_download_then_memmap(airflow_db, dags, sample_source, flickr_conn, out):
    """Lists from the two days crawled above, 100 images, the memmap."""
    subsets = build_lists(dags, out)
    built = xcom(subsets, "build_subsets")
    assert [f["name"] for f in built["lists"]] == ["flickr.tsv.gz", "flickr-100.tsv.gz"]
    assert built["total"] == len(day_ids(out, fa.DENSE_DAY)) + len(day_ids(out, "2021-06-02"))

    conf = download_conf(out)
    dr = dags.dags["flickr_cc_download"].test(run_conf=conf)
    assert dr.state == "success"
    storage = open_storage(str(out))
    specs = [ShardSpec.from_xcom(s) for s in xcom(dr, "plan_shards")]
    rows = [r for s in specs for r in read_manifest(storage, s.manifest_rel)]
    assert len(rows) == 100 and all(r.status.value == "ok" for r in rows)
    assert all(min(r.width, r.height) == 256 for r in rows)
    listed = [line.split("\t")[2] for line in
              gzip.decompress((out / "lists" / "flickr-100.tsv.gz").read_bytes()).decode().splitlines()]
    files = MemmapFileList(out / "lists" / "flickr-100.memmap", base_dir=out)
    assert len(files) == 100 and [f[len(str(out)) + 1:] for f in files] == listed
    assert all(Path(f).is_file() for f in files)  # named exactly as listed: no -256p mismatch

    images_before = sum(n for p, n in sample_source.hits.items() if p.startswith(f"{fa.PREFIX}/photos/"))
    rerun = dags.dags["flickr_cc_download"].test(run_conf=conf)
    assert rerun.state == "success"
    assert sum(n for p, n in sample_source.hits.items() if p.startswith(f"{fa.PREFIX}/photos/")) == images_before
    assert "Flickr-CC lists" in (out / "report-flickr_cc_subsets.html").read_text()
    assert "Flickr-CC download of flickr-100.tsv.gz" in (out / "report-flickr_cc_download.html").read_text()
    card = (out / "README.md").read_text()
    assert all(f"`report-{d}.html`" in card for d in ("flickr_cc_crawl", "flickr_cc_subsets", "flickr_cc_download"))
    assert "`flickr-100.tsv.gz`: none (exact names)" in card


@pytest.mark.slow
def test_file_suffix_names_images_as_the_papers_memmap_loader_opens_them(airflow_db, dags, sample_source,
                                                                        flickr_conn, out, tmp_path):
    """Issue 27: the paper's ``MemMapImageListDataset`` opens every memmap entry with ``.jpg`` rewritten to
    ``-256p.jpg`` (formats.md 1.4) and gave up after 50 failures on the exactly-named images. With
    ``file_suffix=-256p`` every such name exists; the memmap keeps the listed names, byte for byte."""
    import numpy as np

    build_lists(dags, out)
    plain = dags.dags["flickr_cc_download"].test(run_conf=download_conf(out))  # the default: names as listed
    assert plain.state == "success"
    memmap = out / "lists" / "flickr-100.memmap"
    listed_bytes = memmap.read_bytes()
    root = tmp_path / "images-256p"
    dr = dags.dags["flickr_cc_download"].test(run_conf=download_conf(out, root_dir=str(root), file_suffix="-256p"))
    assert dr.state == "success"
    assert memmap.read_bytes() == listed_bytes  # the loader adds the suffix itself

    # The loader's own statements (imagelistdataset.py): entry i of the S120 memmap, decoded, stripped,
    # '.jpg' -> '-256p.jpg', then f"{base_dir}/{fname}".
    entries = np.memmap(memmap, dtype="S120", mode="r")
    names = [entries[i].decode("utf-8").strip().replace(".jpg", "-256p.jpg") for i in range(len(entries))]
    assert len(names) == 100 and all(n.endswith("-256p.jpg") for n in names)
    assert all(Path(f"{root}/{n}").is_file() for n in names)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg")) == sorted(names)  # nothing else
    for entry, name in zip(entries[:5], names):  # the same JPEG as the default run's, under the loader's name
        assert Path(f"{root}/{name}").read_bytes() == (out / entry.decode()).read_bytes()

    storage = open_storage(str(out))
    specs = [ShardSpec.from_xcom(s) for s in xcom(dr, "plan_shards")]
    rows = [r for s in specs for r in read_manifest(storage, s.manifest_rel)]
    assert sorted(r.output for r in rows) == sorted(names) and all(r.status.value == "ok" for r in rows)
    summary = json.loads((out / "_work" / "flickr_download" / "flickr-100" / "summary.json").read_text())
    assert summary["file_suffix"] == "-256p" and summary["counts"]["ok"] == 100
    card = (out / "README.md").read_text()
    assert "`flickr-100.tsv.gz`: `-256p`" in card and "MemMapImageListDataset" in card


def test_hook_reads_the_connection_and_keeps_secrets_out_of_repr(sample_source, flickr_conn):
    from visionflow_airflow.hooks.flickr import FlickrHook, config_from_connection

    hook = FlickrHook()
    config = hook.config
    assert config.endpoint == sample_source.urls["flickr_endpoint"] and config.requests_per_hour == 1_000_000
    assert fa.API_KEY not in repr(config) and fa.API_KEY not in repr(hook.get_conn().config)
    day = Slice(fa._epoch("2021-06-01"), fa._epoch("2021-06-01") + 86399, DEFAULT_LICENSE_IDS)
    assert hook.get_conn().search(SearchQuery(day, per_page=1)).total > 0

    default = config_from_connection(None, None, None, "k", {})
    assert default.endpoint == "https://api.flickr.com/services/rest" and default.requests_per_hour == 3600
    assert default.oauth is None
    signed = config_from_connection("https", "api.flickr.com", 8443, "k", {
        "endpoint": "services/rest", "oauth_token": "t", "oauth_token_secret": "ts", "api_secret": "s",
        "licenses": {"11": ["by", "4.0"]}, "requests_per_hour": 1800})
    assert signed.endpoint == "https://api.flickr.com:8443/services/rest" and signed.oauth is not None
    assert signed.licenses[11].version == "4.0" and signed.requests_per_hour == 1800


def test_day_resolution_for_manual_runs_without_a_logical_date():
    from types import SimpleNamespace

    from visionflow_airflow.operators.flickr import resolve_day

    run = SimpleNamespace(run_after=datetime(2021, 6, 3, 5, 0, tzinfo=timezone.utc))
    assert resolve_day("2021-06-15", {"dag_run": run}) == "2021-06-15"
    assert resolve_day(None, {"data_interval_start": datetime(2021, 6, 2, tzinfo=timezone.utc),
                              "dag_run": run}) == "2021-06-02"
    assert resolve_day("", {"data_interval_start": None, "dag_run": run}) == "2021-06-02"  # the last full day
