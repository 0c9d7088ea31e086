"""Segment scorers for TrackVerse's content filters (formats.md 2.1 step 3): a cartoon scorer and an
aesthetics scorer, each chosen by a spec string and compared with a threshold.

A scorer maps the RGB frames sampled from a segment (2 fps over its first 8 s) to one number:

* cartoon: the segment is a cartoon when the score is **above** the threshold;
* aesthetics: the segment is dropped when the score is **below** the threshold.

Specs (``name`` or ``name:path``):

* ``colourfulness`` (cartoon, offline default): Hasler and Süsstrunk's colourfulness, frame mean. A
  **baseline, not a classifier**: flat saturated animation scores high (bigbuckbunny about 70), camera
  footage low (bikes about 16, carphone about 26), but so does any very colourful photograph (scikit-image's
  astronaut, 73). Threshold 45.
* ``resnet18:<checkpoint.pth>`` (cartoon, upstream's model): torchvision ResNet-18 with a 2-way head; Resize
  256, CenterCrop 224, ImageNet normalisation; the score is the frame-mean of logit[0], threshold 0.
* ``exposure`` (aesthetics, offline default): a **baseline, not an aesthetic model**: 10 x the product of a
  contrast term (grey-level standard deviation / 48, capped at 1) and a sharpness term (variance of the
  Laplacian / 20, capped at 1). It only catches blank, washed-out or badly blurred segments; threshold 4.0
  on the same 0-10 scale as LAION's predictor.
* ``laion:<folder>`` (aesthetics, upstream's model): open_clip ViT-L-14 with QuickGELU (``<folder>/ViT-L-14.pt``,
  the OpenAI weights: OpenAI's TorchScript file or a state dict) and the LAION linear head (``<folder>/aesthetic_predictor_vit_l14_linear.pth``) over the
  L2-normalised image embedding; frame mean, threshold 4.0.

torch, torchvision and open_clip are imported only when a model spec is configured; nothing is downloaded.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from include.visionflow.errors import BadInputError

log = logging.getLogger(__name__)

CARTOON_SCORERS = ("colourfulness", "resnet18")
AESTHETICS_SCORERS = ("exposure", "laion")
DEFAULT_THRESHOLDS = {"colourfulness": 45.0, "resnet18": 0.0, "exposure": 4.0, "laion": 4.0}
LAION_FILES = ("ViT-L-14.pt", "aesthetic_predictor_vit_l14_linear.pth")

FrameScorer = Callable[[Sequence[np.ndarray]], float]


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer name, its weights path (models only) and the threshold (None: the scorer's default)."""

    name: str
    path: str = ""
    threshold: float | None = None

    @classmethod
    def parse(cls, spec: str, kind: str, threshold: float | None = None) -> "ScorerSpec":
        allowed = CARTOON_SCORERS if kind == "cartoon" else AESTHETICS_SCORERS
        name, _, path = (spec or "").strip().partition(":")
        if name not in allowed:
            raise BadInputError(f"{kind} scorer {spec!r} is not one of {', '.join(allowed)} (name or name:path)")
        if name in ("resnet18", "laion") and not path:
            raise BadInputError(f"{kind} scorer {name} needs its weights: {name}:/path/to/"
                                f"{'cartoon_detector.pth' if name == 'resnet18' else 'folder'}")
        if path and not Path(path).exists():
            raise BadInputError(f"{kind} scorer weights {path} do not exist; give a local path (nothing is "
                                "downloaded at run time)")
        return cls(name, path, threshold)

    @property
    def cutoff(self) -> float:
        return DEFAULT_THRESHOLDS[self.name] if self.threshold is None else float(self.threshold)


# --- offline baselines ------------------------------------------------------------------------------------


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk (2003) colourfulness of one RGB frame."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def exposure_quality(rgb: np.ndarray) -> float:
    """0-10: contrast x sharpness, each capped at 1 (see the module doc: a baseline)."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    contrast = min(1.0, float(grey.std()) / 48.0)
    sharpness = min(1.0, float(cv2.Laplacian(grey, cv2.CV_32F).var()) / 20.0)
    return 10.0 * contrast * sharpness


def _frame_mean(fn: Callable[[np.ndarray], float]) -> FrameScorer:
    def score(frames: Sequence[np.ndarray]) -> float:
        return float(np.mean([fn(f) for f in frames])) if len(frames) else 0.0

    return score


# --- configured models (torch imported lazily) ------------------------------------------------------------


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _resnet18_cartoon(path: str) -> FrameScorer:
    import torch
    import torchvision
    from torchvision import transforms

    device = _device()
    model = torchvision.models.resnet18(weights=None, num_classes=2)
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    model.eval().to(device)
    prep = transforms.Compose([transforms.ToPILImage(), transforms.Resize(256), transforms.CenterCrop(224),
                               transforms.ToTensor(),
                               transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def score(frames: Sequence[np.ndarray]) -> float:
        logits = []
        with torch.no_grad():
            for start in range(0, len(frames), 16):  # upstream's batch size
                batch = torch.stack([prep(f) for f in frames[start:start + 16]]).to(device)
                logits.append(model(batch)[:, 0].float().cpu())
        return float(torch.cat(logits).mean()) if logits else 0.0

    return score


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (torch.jit.save): a zip holding ``constants.pkl``."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.rsplit("/", 1)[-1] == "constants.pkl" for name in archive.namelist())


def _laion_aesthetics(folder: str) -> FrameScorer:
    import open_clip
    import torch
    from PIL import Image

    clip_path, head_path = (Path(folder, name) for name in LAION_FILES)
    for needed in (clip_path, head_path):
        if not needed.is_file():
            raise BadInputError(f"laion scorer folder {folder} lacks {needed.name}")
    device = _device()
    # OpenAI's CLIP was trained with QuickGELU: open_clip applies it for the "openai" tag, not for a file path.
    model, _, prep = open_clip.create_model_and_transforms("ViT-L-14", pretrained=None, force_quick_gelu=True)
    # OpenAI's ViT-L-14.pt (what upstream's pretrained="openai" fetched) is a TorchScript archive, which
    # torch.load refuses with weights_only; open_clip takes the weights out of it when allowed to load it whole.
    # A plain state dict (open_clip's or Hugging Face's export) loads with weights_only.
    try:
        keys = open_clip.load_checkpoint(model, str(clip_path), strict=False,
                                         weights_only=not _is_torchscript(clip_path))
    except (RuntimeError, ValueError, OSError) as err:
        raise BadInputError(f"{clip_path} is not a ViT-L-14 CLIP checkpoint: {err}") from err
    if keys.missing_keys:  # extra entries (a traced copy's attn_mask) are harmless, missing weights are not
        raise BadInputError(f"{clip_path} is not a ViT-L-14 CLIP checkpoint: {len(keys.missing_keys)} weights "
                            f"missing, e.g. {keys.missing_keys[:3]}")
    model.to(device)
    head = torch.nn.Linear(768, 1)
    head.load_state_dict(torch.load(head_path, map_location=device, weights_only=True))
    model.eval()
    head.eval().to(device)

    def score(frames: Sequence[np.ndarray]) -> float:
        if not len(frames):
            return 0.0
        with torch.no_grad():
            batch = torch.stack([prep(Image.fromarray(f)) for f in frames]).to(device)
            embedding = model.encode_image(batch).float()
            embedding = embedding / embedding.norm(dim=-1, keepdim=True)
            return float(head(embedding).mean())

    return score


_BUILDERS: dict[str, Callable[[str], FrameScorer]] = {
    "colourfulness": lambda _path: _frame_mean(colourfulness),
    "exposure": lambda _path: _frame_mean(exposure_quality),
    "resnet18": _resnet18_cartoon,
    "laion": _laion_aesthetics,
}
_cache: dict[tuple[str, str], FrameScorer] = {}
_cache_lock = threading.Lock()


def load_scorer(spec: ScorerSpec) -> FrameScorer:
    """The scorer of a spec, built once per process (models are large: every shard thread shares one)."""
    key = (spec.name, spec.path)
    with _cache_lock:
        if key not in _cache:
            log.info("loading %s scorer %s", spec.name, spec.path or "(built in)")
            try:
                _cache[key] = _BUILDERS[spec.name](spec.path)
            except ImportError as err:  # a configuration problem: a retry cannot install it
                needs = "torch, torchvision and open_clip_torch" if spec.name == "laion" else "torch and torchvision"
                raise BadInputError(f"{spec.name} scorer needs {needs} installed ({err})") from err
        return _cache[key]


def is_cartoon(spec: ScorerSpec, frames: Sequence[np.ndarray]) -> tuple[bool, float]:
    value = load_scorer(spec)(frames)
    return value > spec.cutoff, round(value, 3)


def is_low_aesthetics(spec: ScorerSpec, frames: Sequence[np.ndarray]) -> tuple[bool, float]:
    value = load_scorer(spec)(frames)
    return value < spec.cutoff, round(value, 3)
