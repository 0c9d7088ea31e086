"""Detections → ByteTrack tracks → upstream track records (formats.md 2.2).

ByteTrack is the ``trackers`` package's (supervision removed its own). TrackVerse's settings, translated:
``track_thresh 0.55`` is the high-confidence split, new tracks need ``track_thresh + 0.1`` as upstream's
``det_thresh``, ``match_thresh 0.45`` (a 1 - IoU cost) is a minimum IoU of 0.55, ``track_buffer 24`` frames at
30 fps scaled to the sampling rate. The tracker is reset for every scene segment.

Records follow upstream's ``STrack.history`` (read in MMPLab/TrackVerse v1 ``bytetrack/byte_tracker.py``): one
entry per frame the track was matched, from the detection that spawned it; the box is that frame's detection
(``tlwh`` of the detection, not the Kalman state), so ``track_bbox`` is raw and the clip step smooths it, as
``extract_tracks.py`` does. One deliberate difference: upstream's ``re_activate`` replaces the history of a
track found again after being lost, dropping everything before the gap; here the track keeps its whole history.

Per-frame class evidence: the detector's per-class scores when it has them, else a one-hot of its class;
"weighted" scores multiply by the detection score (Detic's logit × objectness upstream). Classes are ranked by
the time-mean of the weighted scores; the record keeps the top 10 (at least 1).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from include.visionflow.models.detectors import Detections, Detector

TRACK_THRESH = 0.55
MATCH_THRESH = 0.45
TRACK_BUFFER = 24
BATCH = 8


@dataclass
class Track:
    ts: list[float] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)  # x, y, w, h in pixels
    scores: list[float] = field(default_factory=list)
    logits: list[np.ndarray] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.ts[-1] - self.ts[0] if self.ts else 0.0

    def mean_area(self, height: int, width: int) -> float:
        return float(np.mean([w * h for _, _, w, h in self.boxes])) / float(height * width)


def make_tracker(fps: float):
    from trackers import ByteTrackTracker

    return ByteTrackTracker(lost_track_buffer=TRACK_BUFFER, frame_rate=fps,
                            track_activation_threshold=TRACK_THRESH + 0.1, minimum_consecutive_frames=2,
                            minimum_iou_threshold=1.0 - MATCH_THRESH, high_conf_det_threshold=TRACK_THRESH)


def _class_evidence(dets: Detections, classes: int) -> np.ndarray:
    if dets.logits is not None and dets.logits.shape[1] == classes:
        return dets.logits.astype(np.float32)
    onehot = np.zeros((len(dets), classes), np.float32)
    onehot[np.arange(len(dets)), dets.class_ids.clip(0, classes - 1)] = 1.0
    return onehot


def _new_tracklets(tracker) -> list:
    """Tracklets the last update spawned: still unconfirmed and never predicted (their state is the detection)."""
    return [t for t in tracker.tracks if t.tracker_id == -1 and t.age == 0]


def _spawning_row(tracklet, boxes: np.ndarray, untracked: np.ndarray) -> int | None:
    """The untracked detection a just-spawned tracklet was made from: its Kalman state still equals that box."""
    if not len(untracked):
        return None
    gaps = np.abs(boxes[untracked] - np.asarray(tracklet.get_state_bbox(), np.float64)).max(1)
    best = int(gaps.argmin())
    return int(untracked[best]) if gaps[best] < 1e-3 else None


def track_frames(frames: Iterable[tuple[float, np.ndarray]], detector: Detector,
                 tracker) -> tuple[list[Track], tuple, int]:
    """Run detection (in small batches) and tracking over one segment: tracks, frame (H, W), frames seen.

    A track's boxes are its matched detections, as upstream's history keeps them (``parse_tracks.py`` reads
    ``STrack.history``, whose boxes are the detections' own ``tlwh``, not the Kalman state). Upstream's history
    also starts at the detection that spawned the track, one frame before ByteTrack confirms it; ``trackers``
    reports that frame with ``tracker_id`` -1, so the spawning detection is remembered per tracklet (the
    tracker's own objects) and put first when the tracklet is confirmed."""
    import supervision as sv

    tracker.reset()
    tracks: dict[int, Track] = {}
    spawned: dict = {}  # unconfirmed tracklet -> its first observation
    size: tuple = ()
    classes = len(detector.labels)

    def observe(track: Track, seconds: float, box, score: float, evidence: np.ndarray) -> None:
        x1, y1, x2, y2 = (float(v) for v in box)
        track.ts.append(seconds)
        track.boxes.append([round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)])
        track.scores.append(float(score))
        track.logits.append(evidence)

    def feed(batch: list[tuple[float, np.ndarray]]) -> None:
        for (seconds, _), dets in zip(batch, detector.detect([f for _, f in batch])):
            detections = sv.Detections(xyxy=dets.boxes.reshape(-1, 4), confidence=dets.scores,
                                       class_id=dets.class_ids, data={"evidence": _class_evidence(dets, classes)})
            result = tracker.update(detections)
            by_id = {t.tracker_id: t for t in tracker.tracks if t.tracker_id >= 0}
            for i, tid in enumerate(result.tracker_id):
                if tid < 0:
                    continue
                if tid not in tracks:
                    tracks[int(tid)] = Track()
                    first = spawned.pop(by_id.get(tid), None)
                    if first is not None:
                        observe(tracks[int(tid)], *first)
                observe(tracks[int(tid)], seconds, result.xyxy[i], result.confidence[i], result.data["evidence"][i])
            untracked = np.flatnonzero(result.tracker_id < 0)
            alive = set(map(id, tracker.tracks))
            for tracklet in [t for t in spawned if id(t) not in alive]:
                del spawned[tracklet]
            for tracklet in _new_tracklets(tracker):
                row = _spawning_row(tracklet, result.xyxy, untracked)
                if row is not None:
                    spawned[tracklet] = (seconds, result.xyxy[row], result.confidence[row],
                                         result.data["evidence"][row])

    batch: list[tuple[float, np.ndarray]] = []
    count = 0
    for item in frames:
        count += 1
        size = size or item[1].shape[:2]
        batch.append(item)
        if len(batch) == BATCH:
            feed(batch)
            batch = []
    if batch:
        feed(batch)
    return [tracks[k] for k in sorted(tracks)], size, count


def clean_label(text: str) -> str:
    """Upstream's description cleanup: no "photo of a " prefix, nothing from " (also" on."""
    return text.replace("photo of a ", "").split(" (also")[0].strip()


def file_label(label: str) -> str:
    """The label as it appears in a clip's file name: upstream's spaces to ``-``, and ``/`` too (COCO's ``N/A``)."""
    from include.visionflow.paths import safe_component

    return safe_component(re.sub(r"[\s/]+", "-", label.strip()), what="class label")


def track_id(yid: str, track: Track) -> str:
    boxes = tuple(tuple(b) for b in track.boxes)
    return hashlib.md5(f"{yid}-{tuple(track.ts)}-{boxes}".encode("utf-8")).hexdigest()


def track_record(yid: str, track: Track, labels: list[str], size: tuple, segment: tuple[float, float]) -> dict:
    """The ``tracks_meta`` line of a kept track."""
    from include.visionflow.tracking.records import TrackRecord

    logits = np.stack(track.logits)
    weighted = logits * np.asarray(track.scores, np.float32)[:, None]
    order = np.argsort(-weighted.mean(0), kind="stable")[: min(10, len(labels))]
    order = [int(c) for c in order if weighted[:, c].mean() > 0] or [int(order[0])]
    descs = [clean_label(labels[c]) for c in order]
    tid = track_id(yid, track)
    name = file_label(descs[0])
    (logit_mu, logit_std), (wlogit_mu, wlogit_std) = _moments(logits[:, order]), _moments(weighted[:, order])
    return TrackRecord(
        yid=yid, tid=tid, fn=f"{yid[:2]}/{yid}-{name}-{tid}.mp4", video_size=[int(size[0]), int(size[1])],
        segment=[round(segment[0], 3), round(segment[1], 3)], ts=track.ts, boxes=track.boxes,
        label_ids=order, label_names=[labels[c] for c in order], descs=descs,
        logit_mu=logit_mu, logit_std=logit_std, wlogit_mu=wlogit_mu, wlogit_std=wlogit_std,
    ).meta()


def _moments(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-class mean and standard deviation over time."""
    return [round(float(v), 4) for v in values.mean(0)], [round(float(v), 4) for v in values.std(0)]


def keep_track(track: Track, size: tuple, min_len: float, min_area: float) -> bool:
    return bool(track.ts) and track.duration >= min_len and track.mean_area(*size) >= min_area
