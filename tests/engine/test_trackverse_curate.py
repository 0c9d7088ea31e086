"""Curated track subsets: counts, nesting, per-class and per-video caps, validation videos left out, the same
bytes for the same seed. The track records are written as the tracking step writes them; the selection tests
read the subsets in the 2024 field set (``fn``, ``tid``), the format tests in both."""
from __future__ import annotations

import pytest

from include.visionflow.datasets.trackverse_tracks import TrackConfig, curate
from include.visionflow.errors import BadInputError
from include.visionflow.storage import open_storage
from include.visionflow.tracking.meta import meta_rel, read_records, write_records

CLASSES = ("dog", "cat", "bicycle")
# A detector whose class list holds the records' labels: the subsets name classes by index into it. Only the
# list is read (labels given), so no model file is needed.
DETECTOR = {"detector": "onnx:unused.onnx", "detector_settings": {"labels": ["person", *CLASSES]}}


def config(**kwargs) -> TrackConfig:
    return TrackConfig(**{"domain": "lvis", "record_format": "2024", **DETECTOR, **kwargs})
VIDEOS = [f"vid{n:08d}" for n in range(6)]  # 11 characters, like YouTube ids
PER_VIDEO = 5


def record(yid: str, n: int) -> dict:
    label = CLASSES[n % len(CLASSES)]
    box = [10.0 + 40 * n, 10.0, 30.0, 30.0]  # tracks of one video do not overlap
    score = round(0.2 + 0.03 * n + 0.01 * VIDEOS.index(yid), 4)
    tid = f"{VIDEOS.index(yid):02d}{n:030d}"
    return {"yid": yid, "tid": tid, "fn": f"{yid[:2]}/{yid}-{label}-{tid}.mp4", "video_size": [360, 640],
            "segment": [0.0, 5.0], "track_ts": [0.0, 1.0, 2.0, 3.0], "track_bbox": [box] * 4,
            "top10_lbl": [label], "top10_desc": [label], "top10_logit_mu": [score], "top10_logit_std": [0.0],
            "top10_wlogit_mu": [score], "top10_wlogit_std": [0.0]}


@pytest.fixture
def storage(tmp_path):
    storage = open_storage(str(tmp_path))
    for yid in VIDEOS:
        records = [record(yid, n) for n in range(PER_VIDEO)]
        near_duplicate = {**records[0], "tid": "f" * 32, "fn": f"{yid[:2]}/{yid}-dog-{'f' * 32}.mp4"}
        write_records(storage, meta_rel("lvis", yid), records + [near_duplicate])
    return storage


def subset(storage, name: str) -> list[dict]:
    return read_records(storage, f"tracks_subsets/lvis/{name}.jsonl.gzip")


def test_random_subsets_are_nested_prefixes_and_count_what_exists(storage):
    cfg = config(curation="random", curation_sizes=(10, 4, 100), seed=7)
    written = curate(storage, cfg)
    counts = {name: info["tracks"] for name, info in written.items()}
    assert counts == {"random-4": 4, "random-10": 10, "random-100": 30}
    small, medium, everything = (subset(storage, f"random-{n}") for n in (4, 10, 100))
    fns = lambda rows: {r["fn"] for r in rows}  # noqa: E731
    assert fns(small) < fns(medium) < fns(everything)
    assert not any(r["tid"] == "f" * 32 for r in everything)  # near-duplicates dropped like the clip step does
    first = storage.read_bytes("tracks_subsets/lvis/random-10.jsonl.gzip")
    curate(storage, cfg)
    assert storage.read_bytes("tracks_subsets/lvis/random-10.jsonl.gzip") == first
    curate(storage, config(curation="random", curation_sizes=(10,), seed=8))
    assert fns(subset(storage, "random-10")) != fns(medium)


@pytest.mark.parametrize("listed", ["ids", "file"])
def test_class_balanced_takes_each_classes_best_tracks_without_validation_videos(storage, listed, tmp_path):
    verified = tmp_path / "verified.txt"
    verified.write_text(f"{VIDEOS[-1]}_dog_0001\n")  # upstream's lines: the id, then the track
    validation = (VIDEOS[-1],) if listed == "ids" else (str(verified),)
    cfg = config(curation="class_balanced", curation_sizes="[3]", validation_yids=validation)
    assert curate(storage, cfg) == {"class-balanced-x3": {
        "path": storage.uri("tracks_subsets/lvis/class-balanced-x3.jsonl.gzip"), "tracks": 9}}
    rows = subset(storage, "class-balanced-x3")
    assert VIDEOS[-1] not in {r["yid"] for r in rows}
    for label in CLASSES:
        candidates = [record(y, n) for y in VIDEOS[:-1] for n in range(PER_VIDEO) if CLASSES[n % 3] == label]
        best = sorted(candidates, key=lambda r: -r["top10_wlogit_mu"][0])[:3]
        assert sorted(r["fn"] for r in rows if r["top10_desc"][0] == label) == sorted(r["fn"] for r in best)


def test_video_balanced_caps_tracks_per_video(storage):
    cfg = config(curation="video_balanced", curation_sizes=(5, 50), per_video=2, seed=3)
    written = curate(storage, cfg)
    assert {n: i["tracks"] for n, i in written.items()} == {"video-balanced-x2-5": 5, "video-balanced-x2-50": 12}
    rows = subset(storage, "video-balanced-x2-50")
    per_video = {yid: [r for r in rows if r["yid"] == yid] for yid in VIDEOS}
    assert all(len(tracks) == 2 for tracks in per_video.values())
    for yid, tracks in per_video.items():  # each video's two best
        assert sorted(r["tid"] for r in tracks) == sorted(record(yid, n)["tid"] for n in (3, 4))
    assert {r["fn"] for r in subset(storage, "video-balanced-x2-5")} < {r["fn"] for r in rows}


@pytest.mark.parametrize("kwargs", [{"curation": "min_red"}, {"curation_sizes": (0,)}, {"per_video": 0}])
def test_bad_curation_settings_are_bad_input(storage, kwargs):
    with pytest.raises(BadInputError, match="curation"):
        curate(storage, config(**kwargs))


def test_subsets_in_the_release_format_name_classes_by_index(storage):
    """Issue 27: TrackVerse's current loader reads ``track_mp4_filename`` and ``frame_bboxes``; class names in
    ``top10_lbl`` become indices into the detector's list."""
    curate(storage, config(record_format="release", curation="random", curation_sizes=(100,)))
    rows = subset(storage, "random-100")
    assert len(rows) == 30
    metas = {r["tid"]: r for y in VIDEOS for r in read_records(storage, meta_rel("lvis", y))}
    labels = DETECTOR["detector_settings"]["labels"]
    for row in rows:
        assert list(row) == ["track_id", "track_ts", "frame_ts", "frame_bboxes", "yid", "track_mp4_filename",
                             "top10_label_ids", "top10_label_names"]
        meta = metas[row["track_id"]]
        assert row["track_mp4_filename"] == f"lvis/{meta['fn']}" and row["yid"] == meta["yid"]
        assert row["frame_ts"] == meta["track_ts"] and row["frame_bboxes"] == meta["track_bbox"]
        assert row["track_ts"] == [meta["track_ts"][0], meta["track_ts"][-1]]
        assert row["top10_label_names"] == meta["top10_lbl"]
        assert [labels[i] for i in row["top10_label_ids"]] == meta["top10_lbl"] and row["top10_label_ids"][0] > 0


def test_subsets_in_the_2024_format_keep_upstreams_indices(storage):
    curate(storage, config(curation="random", curation_sizes=(100,)))
    labels = DETECTOR["detector_settings"]["labels"]
    metas = {r["tid"]: r for y in VIDEOS for r in read_records(storage, meta_rel("lvis", y))}
    for row in subset(storage, "random-100"):
        meta = metas[row["tid"]]
        assert list(row) == list(meta) and {k: v for k, v in row.items() if k != "top10_lbl"} == {
            k: v for k, v in meta.items() if k != "top10_lbl"}
        assert row["top10_lbl"] == [labels.index(n) for n in meta["top10_lbl"]]
        assert row["top10_desc"] == meta["top10_desc"]


def test_classes_the_detector_does_not_list_are_bad_input(storage):
    with pytest.raises(BadInputError, match="does not list"):
        curate(storage, TrackConfig(domain="lvis", curation_sizes=(1,)))  # centerface: only "face"
    with pytest.raises(BadInputError, match="record_format"):
        config(record_format="2023")
