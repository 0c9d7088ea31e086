"""torchvision's Faster R-CNN (ResNet-50 FPN v2, COCO) from a local state dict. torch is imported here only:
visionflow does not depend on it, and weights are never downloaded."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from include.visionflow.errors import BadInputError
from include.visionflow.models.detectors import Detections, _clip_boxes, _scaled

log = logging.getLogger(__name__)


def coco_labels(what: str) -> list[str]:
    """The 91 COCO class names (index = the model's label). They ship in torchvision's code (the weights
    enum's metadata): nothing is downloaded, no model is built."""
    try:
        from torchvision.models.detection import FasterRCNN_ResNet50_FPN_V2_Weights
    except ImportError as err:
        raise BadInputError(f"detector {what} needs torch and torchvision: pip install torch torchvision "
                            "(CPU or CUDA build)") from err
    return list(FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1.meta["categories"])


class TorchvisionDetector:
    def __init__(self, path: Path, score_threshold: float = 0.1, max_side: int | None = None, device: str = "cpu",
                 batch_size: int = 4, min_size: int = 800, **_):
        try:
            import torch
            from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2
        except ImportError as err:
            raise BadInputError(f"detector torchvision:{path} needs torch and torchvision: "
                                "pip install torch torchvision (CPU or CUDA build)") from err
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BadInputError(f"detector torchvision:{path}: device {device!r} asked for, but torch sees no GPU")
        self.torch, self.device = torch, torch.device(device)
        # The model resizes every frame to ``min_size`` on its short side itself (800, as the COCO weights were
        # trained; ``max_side`` cannot make it cheaper). Upstream's Detic ran at 480: about 3x faster on a CPU.
        if not 64 <= int(min_size) <= 2048:
            raise BadInputError(f"detector torchvision:{path}: min_size {min_size} must be 64-2048 pixels")
        model = fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91,
                                           box_score_thresh=float(score_threshold), min_size=int(min_size),
                                           max_size=max(1333, int(min_size) * 1333 // 800))
        try:
            model.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))
        except Exception as err:  # noqa: BLE001 - torch.load raises pickle, zip and runtime errors alike
            raise BadInputError(f"{path} is not a fasterrcnn_resnet50_fpn_v2 COCO state dict: {err}") from err
        self.model = model.eval().to(self.device)
        self.name = f"torchvision:{path.name}"
        self.labels = coco_labels(self.name)
        self.max_side, self.batch_size = max_side, max(1, int(batch_size))
        self.lock = threading.Lock()

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        torch, out = self.torch, []
        for first in range(0, len(frames), self.batch_size):
            batch = frames[first:first + self.batch_size]
            scaled = [_scaled(f, self.max_side) for f in batch]
            tensors = [torch.from_numpy(np.ascontiguousarray(s)).permute(2, 0, 1).to(self.device).float() / 255.0
                       for s, _ in scaled]
            with self.lock, torch.inference_mode():
                preds = self.model(tensors)
            for frame, (_, back), pred in zip(batch, scaled, preds):
                boxes = pred["boxes"].float().cpu().numpy() * back
                out.append(Detections(_clip_boxes(boxes, frame), pred["scores"].float().cpu().numpy(),
                                      pred["labels"].cpu().numpy().astype(np.int64)))
        return out
