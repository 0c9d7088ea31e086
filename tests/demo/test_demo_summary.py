"""The demo's summary reader on files shaped like the ones the DAGs write (real files, real JSON)."""
from __future__ import annotations

import json

from include.demo.confs import Counts
from include.demo.summary import Row, format_table, read_counts

RUN = "demo__20260101T000000"


def _write(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)


def test_counts_summed_over_split_summaries(tmp_path):
    _write(tmp_path / "oi/train/summary.json", {"counts": {"ok": 8, "failed_download": 0, "refused": 0}})
    _write(tmp_path / "oi/extended_targets/summary.json",
           {"counts": {"ok": 4, "failed_download": 2, "failed_checksum": 1, "refused": 1}, "reused": 3})
    assert read_counts(tmp_path, Counts("oi/*/summary.json"), RUN) == (12, 4)


def test_counts_at_a_wildcard_path(tmp_path):
    split = {"clips": {"counts": {"ok": 2, "failed_download": 1}}, "dense": {"counts": {"ok": 9}}}
    _write(tmp_path / "k/summary.json", {"splits": {"train": split, "val": split}})
    assert read_counts(tmp_path, Counts("k/summary.json", "splits.*.clips"), RUN) == (4, 2)


def test_named_ok_and_failed_fields(tmp_path):
    _write(tmp_path / "meta/crawl.json", {"rows": 104, "dropped": {"no_image_url": 2, "bad_licence": 1}})
    assert read_counts(tmp_path, Counts("meta/crawl.json", ok="rows", failed="dropped"), RUN) == (104, 3)


def test_run_placeholder_selects_this_runs_files_only(tmp_path):
    _write(tmp_path / f"v/_work/{RUN}/manifests/s0.stats.json", {"counts": {"ok": 3, "failed_decode": 1}})
    _write(tmp_path / "v/_work/demo__older/manifests/s0.stats.json", {"counts": {"ok": 7}})
    assert read_counts(tmp_path, Counts("v/_work/{run}/manifests/*.stats.json"), RUN) == (3, 1)


def test_missing_or_unreadable_files_show_as_unknown(tmp_path):
    _write(tmp_path / "bad/summary.json", "{not json")
    assert read_counts(tmp_path, Counts("bad/summary.json"), RUN) == (None, None)
    assert read_counts(tmp_path, Counts("absent/*/summary.json"), RUN) == (None, None)


def test_table_aligns_columns():
    table = format_table([Row("OpenImages V4", "success", 12, 5, ".demo/data/openimages"),
                          Row("Flickr-CC subsets", "failed", None, None, ".demo/data/flickr_cc/lists")])
    lines = table.splitlines()
    assert lines[0].split() == ["dataset", "run", "items", "ok", "failed", "output"]
    assert lines[2].split("  ")[0] == "OpenImages V4"
    assert "-" in lines[3] and lines[3].index("failed") == lines[2].index("success")
