"""A user's exported detector run with onnxruntime (the output layouts are described in ``detectors.py``)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from include.visionflow.errors import BadInputError
from include.visionflow.models.detectors import Detections, _clip_boxes, _scaled, read_labels

log = logging.getLogger(__name__)


def _channels(first: int, second: int) -> int:
    """Which of a YOLO output's two axes holds 4 + C values: the smaller one (anchors outnumber classes),
    unless it is too small to hold a box and a class."""
    small, large = sorted((first, second))
    return small if small >= 5 else large


class OnnxDetector:
    def __init__(self, path: Path, score_threshold: float = 0.1, max_side: int | None = None, device: str = "cpu",
                 labels=None, nms_iou: float = 0.7, **_):
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BadInputError(f"ONNX detector {path}: device {device!r} asked for, but this onnxruntime has no "
                                    "CUDA provider; install onnxruntime-gpu or use device cpu")
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as err:  # onnxruntime raises its own untyped errors for bad files
            raise BadInputError(f"ONNX detector {path} cannot be loaded: {err}") from err
        self.name = f"onnx:{path.name}"
        self.threshold, self.max_side, self.nms_iou = float(score_threshold), max_side, float(nms_iou)
        model_input = self.session.get_inputs()[0]
        self.input_name, self.input_uint8 = model_input.name, "uint8" in model_input.type
        self.batched = len(model_input.shape) == 4
        hw = model_input.shape[-2:]
        self.fixed_size = tuple(hw) if all(isinstance(d, int) and d > 0 for d in hw) else None
        self.outputs = self.session.get_outputs()
        self.yolo = len(self.outputs) == 1
        classes = self._class_count()
        self.labels = read_labels(labels, self.name) if labels else [f"class{i}" for i in range(classes or 1)]
        if classes and len(self.labels) != classes:
            raise BadInputError(f"{self.name}: {len(self.labels)} labels given for a model with {classes} classes")
        log.info("%s: input %s %s, %s layout, providers %s", self.name, model_input.shape, model_input.type,
                 "YOLO" if self.yolo else "boxes/scores/labels", self.session.get_providers())

    def _class_count(self) -> int | None:
        if self.yolo:
            dims = self.outputs[0].shape[-2:]
            return _channels(*dims) - 4 if all(isinstance(d, int) for d in dims) else None
        for out in self.outputs:
            if len(out.shape) >= 2 and isinstance(out.shape[-1], int) and out.shape[-1] != 4 and "int" not in out.type:
                return out.shape[-1]
        return None

    def _tensor(self, frame: np.ndarray) -> tuple[np.ndarray, float, float]:
        import cv2

        height, width = frame.shape[:2]
        if self.fixed_size:
            frame = cv2.resize(frame, (self.fixed_size[1], self.fixed_size[0]), interpolation=cv2.INTER_LINEAR)
        sx, sy = width / frame.shape[1], height / frame.shape[0]
        chw = np.ascontiguousarray(frame.transpose(2, 0, 1))
        chw = chw if self.input_uint8 else chw.astype(np.float32) / 255.0
        return (chw[None] if self.batched else chw), sx, sy

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        out = []
        for frame in frames:
            small, back = _scaled(frame, self.max_side)
            tensor, sx, sy = self._tensor(small)
            raw = self.session.run(None, {self.input_name: tensor})
            dets = self._decode_yolo(raw[0]) if self.yolo else self._decode_boxes(raw)
            dets.boxes[:, 0::2] *= sx * back
            dets.boxes[:, 1::2] *= sy * back
            dets.boxes = _clip_boxes(dets.boxes, frame)
            out.append(dets.keep(dets.scores >= self.threshold))
        return out

    def _decode_boxes(self, raw: list[np.ndarray]) -> Detections:
        """torchvision-style outputs, told apart by type and size (a leading batch axis of 1 is allowed)."""
        values = [np.asarray(v) for v in raw]
        box_at = next((i for i, v in enumerate(values) if v.ndim >= 2 and v.shape[-1] == 4
                       and not np.issubdtype(v.dtype, np.integer)), None)
        if box_at is None:
            raise BadInputError(f"{self.name}: no (N, 4) boxes among outputs {[o.name for o in self.outputs]}; "
                                "export boxes/scores/labels or one YOLO tensor")
        boxes = values[box_at].reshape(-1, 4).astype(np.float32)
        count = len(boxes)
        ids = scores = logits = None
        for i, value in enumerate(values):
            if i == box_at:
                continue
            if np.issubdtype(value.dtype, np.integer) and value.size == count:
                ids = value.reshape(-1).astype(np.int64)
            elif value.size == count and scores is None:
                scores = value.reshape(-1).astype(np.float32)
            elif count and value.size % count == 0:
                logits = value.reshape(count, -1).astype(np.float32)
        if scores is None:
            raise BadInputError(f"{self.name}: no per-box scores among outputs {[o.name for o in self.outputs]}")
        if ids is None:
            ids = logits.argmax(1) if logits is not None else np.zeros(count, np.int64)
        return Detections(boxes, scores, ids, logits)

    def _decode_yolo(self, raw: np.ndarray) -> Detections:
        import cv2

        pred = np.asarray(raw, np.float32).reshape(raw.shape[-2:])
        if pred.shape[0] == _channels(*pred.shape) != pred.shape[1]:  # (4 + C, anchors) -> (anchors, 4 + C)
            pred = pred.T
        class_scores = pred[:, 4:]
        ids = class_scores.argmax(1)
        scores = class_scores[np.arange(len(ids)), ids]
        mask = scores >= self.threshold
        cx, cy, w, h = pred[mask, :4].T
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
        keep = cv2.dnn.NMSBoxesBatched(np.stack([cx - w / 2, cy - h / 2, w, h], 1).tolist(), scores[mask].tolist(),
                                       ids[mask].tolist(), self.threshold, self.nms_iou) if mask.any() else []
        keep = np.asarray(keep, np.int64).reshape(-1)
        return Detections(boxes[keep], scores[mask][keep], ids[mask][keep].astype(np.int64), class_scores[mask][keep])
