"""The report module on real manifests (written by the manifest API) and real images from scikit-image."""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re

from PIL import Image
from skimage import data as skdata

from include.visionflow.manifest import ItemResult, ShardStats, Status, write_manifest, write_stats
from include.visionflow.report import Card, Histogram, Sheet, collect_work, write_card, write_report
from include.visionflow.storage import open_storage


def jpeg(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


def make_run(storage):
    photos = {"astronaut": skdata.astronaut(), "coffee": skdata.coffee(), "chelsea": skdata.chelsea()}
    results = {"train": [], "val": []}
    for name, array in photos.items():
        storage.write_bytes(f"train/images/{name}.jpg", jpeg(array))
        results["train"].append(ItemResult(name, Status.OK, output=f"train/images/{name}.jpg", bytes=2048,
                                           width=array.shape[1], height=array.shape[0]))
    results["train"].append(ItemResult.failed("dead<link>", Status.FAILED_DOWNLOAD, "http_404", "404 from host"))
    results["val"] = [ItemResult.failed("bad", Status.FAILED_CHECKSUM, "md5_mismatch"),
                      ItemResult("v1", Status.OK, output="v1", detail="12 frames")]
    for shard, (group, rows) in enumerate(results.items()):
        base = f"_work/run1/{group}/manifests/shard-{shard:05d}"
        write_manifest(storage, f"{base}.manifest.parquet", rows)
        write_stats(storage, f"{base}.stats.json", ShardStats.from_results(shard, rows, 2.5))
    return results


def test_report_counts_failures_plots_and_samples(tmp_path):
    storage = open_storage(str(tmp_path))
    make_run(storage)
    run = collect_work(storage, "_work/run1")
    assert run.groups == ["train", "val"]
    assert run.counts()["train"] == {"ok": 3, "failed_download": 1}
    assert run.frames() == [12.0]
    sheet = Sheet("thumbs", [[r["output"]] for r in run.ok() if r["group"] == "train"], storage=storage)
    uri = write_report(storage, "Test run", run=run, samples=[sheet],
                       extra_plots=[Histogram("hours", [1, 2, 2, 3], "hour")], out_rel="reports/r1/report.html")
    assert uri == str(tmp_path / "reports" / "r1" / "report.html")
    text = (tmp_path / "reports" / "r1" / "report.html").read_text()
    assert "http" not in text.replace("http_404", "")  # self-contained: no external resource
    cell = re.search(r'data-group="train" data-status="ok">(\d+)<', text)
    assert cell and cell.group(1) == "3"
    assert re.search(r'data-group="val" data-status="total">2<', text)
    assert "dead&lt;link&gt;" in text and "md5_mismatch" in text  # failed table, escaped
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(pngs) >= 5  # statuses, reasons, durations, sizes, bytes, frames, hours, the sheet
    for png in pngs:
        assert Image.open(io.BytesIO(base64.b64decode(png))).size[0] > 100


def test_card_lists_files_with_md5_and_lines(tmp_path):
    storage = open_storage(str(tmp_path))
    body = b"a\tb\nc\td\ne\tf\n"
    storage.write_bytes("lists/flickr-3.tsv.gz", gzip.compress(body))
    storage.write_bytes("lists/MD5SUMS", b"x  y\n")
    write_card(storage, Card("T", "what", "src", "CC BY: credit the author", "np.memmap(...)", lists=["lists/"]))
    card = (tmp_path / "README.md").read_text()
    md5 = hashlib.md5((tmp_path / "lists" / "flickr-3.tsv.gz").read_bytes()).hexdigest()
    assert f"| `lists/flickr-3.tsv.gz` |" in card and md5 in card
    line = next(l for l in card.splitlines() if "flickr-3.tsv.gz" in l)
    assert "| 3 |" in line
    assert "## Licence and attribution" in card and "credit the author" in card


def test_every_family_report_runs_on_an_empty_root(tmp_path):
    """Each family's report (and card) is written even when the run left nothing: a failed run still gets one."""
    from include.visionflow.report.families import FAMILIES

    storage = open_storage(str(tmp_path))
    extra = {"flickr_download": {"images": storage, "subset": "flickr-50.tsv.gz"},
             "flickr_crawl": {"day": "2021-06-01"}, "kinetics": {"dataset": "kinetics400"},
             "video_retrieval": {"dataset": "msrvtt", "images": storage}, "clip_datasets": {"dataset": "caltech101"}}
    for family, write in FAMILIES.items():
        uri = write(storage, run_id="manual__2026-01-01T00:00:00+00:00", **extra.get(family, {}))
        assert uri.endswith(f"reports/{family}/manual__2026-01-01T00_00_00_00_00/report.html"), uri
        assert (tmp_path / "README.md").is_file()
    assert not (tmp_path / ".tmp").exists()
    # One latest copy per DAG where DAGs or datasets share a root; the others own theirs (report.html).
    for latest in ("report-flickr_cc_crawl.html", "report-flickr_cc_subsets.html", "report-flickr_cc_download.html",
                   "report-video_retrieval-msrvtt.html", "report-activitynet_qa.html",
                   "report-clip_datasets-caltech101.html"):
        assert (tmp_path / latest).is_file(), latest
    assert "TrackVerse" in (tmp_path / "report.html").read_text()  # the last family that owns its root
