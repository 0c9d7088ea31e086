"""The flickr_cc_download run report (dag.test against the sample source's Flickr emulator): the images it
downloaded on a contact sheet, the failed ones with their reasons, the resized sizes and the images/s, as the
OpenImages report shows its own."""
from __future__ import annotations

import gzip
import re

from tests.dags.test_flickr_cc import build_lists, dags, download_conf, flickr_conn, out  # noqa: F401 (fixtures)
from tests.report.report_html import image_titled, read_report, summary_of

BAD = 3  # list lines whose photo id the emulator does not know: it answers 404


def test_download_report_shows_images_failures_sizes_and_throughput(airflow_db, dags, sample_source,  # noqa: F811
                                                                    flickr_conn, out):
    build_lists(dags, out)
    lines = gzip.decompress((out / "lists" / "flickr-100.tsv.gz").read_bytes()).decode().splitlines()[:40]
    broken = [re.sub(r"/\d+_(\w+\.jpg)$", r"/0_\1", line.split("\t")[1]) for line in lines[:BAD]]
    assert all(b != line.split("\t")[1] for b, line in zip(broken, lines))
    rows = [f"{line.split(chr(9))[0]}\t{url}\t{line.split(chr(9))[2]}" for line, url in zip(lines, broken)]
    (out / "lists" / "flickr-report.tsv.gz").write_bytes(gzip.compress(("\n".join(rows + lines[BAD:]) + "\n").encode()))

    dr = dags.dags["flickr_cc_download"].test(run_conf=download_conf(out, subset="flickr-report.tsv.gz",
                                                                   min_shard_rows=10, parallelism=1))
    assert dr.state == "success"
    report = out / "report-flickr_cc_download.html"
    headings, images = read_report(report)
    text = report.read_text()
    assert text.count("<img") == len(images) >= 6
    sheet = image_titled(images, "flickr-report.tsv.gz: sampled downloaded images")
    assert sheet.width > 128 and sheet.height > 128  # a grid of thumbnails, not one blank box
    for title in ("Resized long side", "Resized file size", "Images per second, per shard", "Failures per reason",
                  "Output sizes"):
        image_titled(images, title)
    assert f"Failed items ({BAD})" in headings
    failed = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>failed_download</td><td>([^<]*)</td>", text)
    assert len(failed) == BAD and {reason for _, reason in failed} == {"http_404"}
    shown = summary_of(report)
    assert shown["items"] == "40" and shown["work"].startswith("_work/flickr_download/flickr-report_rows")
    throughput = dict(re.findall(r'<td data-key="(items_per_second|items)">([^<]*)<', text.split("Throughput", 1)[1]))
    assert throughput["items"] == "40" and float(throughput["items_per_second"]) > 0
