"""TrackVerse steps 1-4 through the shard runner, against the sample videos (local_dir and over HTTP): one row
per video per stage, failures carried to later stages, outputs reused by reruns, failed downloads retried."""
from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from include.sample_source import trackverse as sample
from include.visionflow.datasets import trackverse as tv
from include.visionflow.errors import BadInputError
from include.visionflow.manifest import read_manifest
from include.visionflow.storage import open_storage
from include.visionflow.video.probe import probe


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from include.sample_source.server import SampleSource

    server = SampleSource(tmp_path_factory.mktemp("tv-source"), s3_port=None).start(["trackverse"])
    yield server
    server.stop()


def rows(storage, specs, stage):
    return {r.key: r for spec in specs for r in read_manifest(storage, spec.for_stage(stage).manifest_rel)}


def run_all(storage, specs, config):
    for stage in tv.STAGES:
        for spec in specs:
            tv.run_stage(storage, spec, stage, config)


def test_index_formats(tmp_path):
    (tmp_path / "ids.txt").write_text("# ids\nabcdefghijk\n\nabcdefghijk\nzyxwvutsrqp extra\n")
    (tmp_path / "hdvila.json").write_text(json.dumps([{"video_id": "abcdefghijk", "clip": []}, "zyxwvutsrqp"]))
    (tmp_path / "hdvila.jsonl").write_text('{"video_id": "abcdefghijk"}\n{"yid": "zyxwvutsrqp"}\n')
    for name in ("ids.txt", "hdvila.json", "hdvila.jsonl"):
        assert [r["yid"] for r in tv.read_index(str(tmp_path / name))] == ["abcdefghijk", "zyxwvutsrqp"], name
    (tmp_path / "bad.jsonl").write_text('{"title": "no id"}\n')
    with pytest.raises(BadInputError, match="no video id"):
        tv.read_index(str(tmp_path / "bad.jsonl"))
    with pytest.raises(BadInputError, match="not found"):
        tv.read_index(str(tmp_path / "missing.txt"))


def test_non_string_ids_are_bad_rows_never_text(source, tmp_path):
    """Issue 28: ``["a","b"]`` or ``{"x": 1}`` as an id became the id ``"['a', 'b']"``. Each is a bad row now
    (one manifest row per entry, keyed by its place in the index), and the good ids still run."""
    (tmp_path / "ids.json").write_text(json.dumps([
        "tvCamera001", ["a", "b"], {"video_id": ["a", "b"]}, {"yid": {"x": 1}}, {"x": 1, "id": 7}, None]))
    (tmp_path / "ids.jsonl").write_text('{"video_id": "tvCamera001"}\n{"video_id": ["a", "b"]}\n')
    storage = open_storage(str(tmp_path / "out"))
    specs = tv.plan(storage, "_work/n", str(tmp_path / "ids.json"))
    config = tv.TrackVerseConfig(source=tv.video_source("local_dir", local_dir=source.urls["trackverse_local_dir"]))
    tv.run_stage(storage, specs[0], "download", config)
    tv.run_stage(storage, specs[0], "segments", config)
    got = rows(storage, specs, "download")
    assert {k: (r.status.value, r.reason) for k, r in got.items()} == {
        "tvCamera001": ("ok", ""), **{f"yid_index entry {n}": ("bad_row", "yid_not_text") for n in (2, 3, 4, 5, 6)}}
    assert "list" in got["yid_index entry 2"].detail and "['a', 'b']" not in got["yid_index entry 3"].detail
    assert rows(storage, specs, "segments")["yid_index entry 4"].reason == "yid_not_text"  # carried
    assert not [p for p in (tmp_path / "out").rglob("*") if "[" in p.name or "{" in p.name]
    lines = tv.read_index(str(tmp_path / "ids.jsonl"))
    assert [(r["key"], r["yid"], r["error"].split(":")[0]) for r in lines] == [
        ("tvCamera001", "tvCamera001", ""), ("yid_index line 2", "", "yid_not_text")]


def test_steps_1_to_4_from_local_dir_then_a_rerun(source, tmp_path):
    storage = open_storage(str(tmp_path / "out"))
    (tmp_path / "ids.txt").write_text("\n".join([*sample.INDEX, "../escape"]))
    specs = tv.plan(storage, "_work/a", str(tmp_path / "ids.txt"), per_shard=4)
    assert [s.count for s in specs] == [4, 2]
    config = tv.TrackVerseConfig(source=tv.video_source("local_dir", local_dir=source.urls["trackverse_local_dir"]))
    run_all(storage, specs, config)

    download = rows(storage, specs, "download")
    assert {k: r.status.value for k, r in download.items()} == {
        **{yid: "ok" for yid in sample.VIDEOS}, sample.MISSING_ID: "failed_download",
        sample.CORRUPT_ID: "failed_decode", "../escape": "bad_row"}
    assert download[sample.MISSING_ID].reason == "missing_local_video"
    for stage in ("segments", "filters", "blur"):  # one row per video per stage; failures carried over
        got = rows(storage, specs, stage)
        assert {k: r.status for k, r in got.items()} == {k: r.status for k, r in download.items()}, stage
    for yid, expected in sample.EXPECTED_FILTERED.items():
        kept = tv.read_segments(storage, yid)
        assert [t for s in kept for t in s] == pytest.approx([t for s in expected for t in s], abs=0.05), yid
        scores = json.loads(storage.read_text(tv.filters_rel(yid)))
        assert len(scores["segments"]) == len(sample.EXPECTED_SEGMENTS[yid])
        assert storage.exists(tv.blurred_rel(yid)) is bool(expected)  # nothing kept: not blurred
        if expected:
            assert probe(storage.uri(tv.blurred_rel(yid))).has_audio
    assert not (tmp_path / "out" / "..").joinpath("escape").exists()

    again = tv.plan(storage, "_work/b", str(tmp_path / "ids.txt"), per_shard=4)
    run_all(storage, again, config)
    for stage in tv.STAGES:
        reused = Counter(r.reused for r in rows(storage, again, stage).values())[True]
        assert reused == (2 if stage == "blur" else 3), stage


def test_failed_downloads_are_retried_by_the_next_run(source, tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    storage = open_storage(str(tmp_path / "out"))
    (tmp_path / "ids.txt").write_text("tvCamera001\n")
    config = tv.TrackVerseConfig(source=tv.video_source("local_dir", local_dir=str(folder)))
    first = tv.plan(storage, "_work/1", str(tmp_path / "ids.txt"))
    tv.run_stage(storage, first[0], "download", config)
    assert rows(storage, first, "download")["tvCamera001"].status.value == "failed_download"

    shutil.copy(source.urls["trackverse_local_dir"] + "/tvCamera001.mp4", folder)
    second = tv.plan(storage, "_work/2", str(tmp_path / "ids.txt"))
    tv.run_stage(storage, second[0], "download", config)
    assert rows(storage, second, "download")["tvCamera001"].status.value == "ok"


def test_download_over_http_with_a_url_template(source, tmp_path):
    storage = open_storage(str(tmp_path / "out"))
    specs = tv.plan(storage, "_work/h", source.urls["trackverse_yid_index_url"])
    config = tv.TrackVerseConfig(source=tv.video_source("url_template", source.urls["trackverse_url_template"]),
                                 skip_cartoon_filter=True, skip_aesthetics_filter=True)
    for stage in ("download", "segments", "filters"):
        tv.run_stage(storage, specs[0], stage, config)
    got = rows(storage, specs, "download")
    assert got[sample.MISSING_ID].reason == "http_404"
    assert got["tvJoinedA01"].status.value == "ok" and got["tvJoinedA01"].duration == pytest.approx(12.2, abs=0.05)
    assert len(tv.read_segments(storage, "tvCartoon01")) == 1  # filters skipped: the cartoon stays


def test_youtube_without_ytdlp_is_a_clear_error():
    with pytest.raises(BadInputError, match="yt-dlp"):
        tv.video_source("youtube")
