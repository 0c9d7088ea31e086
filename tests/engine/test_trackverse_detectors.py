"""Detectors plugged in by configuration: tiny ONNX models built here with onnx's helper API (both output
layouts) run through the same tracking and clip path as the default; bad specs fail with a message that says
what to fix."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from include.visionflow.datasets.trackverse_tracks import TrackConfig, clips_item, track_item
from include.visionflow.errors import BadInputError
from include.visionflow.models.detectors import load_detector
from include.visionflow.tracking.meta import meta_rel, read_records
from tests.engine.trackverse_helpers import YID, decode, make_root

SIDE = 64
BOX = [16.0, 16.0, 48.0, 48.0]  # the middle half of the model's 64x64 input


def _score_nodes():
    """score = min(1, 0.5 + mean pixel): depends on the frame, ~0.9 on carphone."""
    return [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Add", ["mean", "half"], ["raw"]),
        helper.make_node("Min", ["raw", "one"], ["score0"]),
    ], [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])]


def boxes_model(path: Path) -> Path:
    """torchvision-style outputs: boxes (N, 4), scores (N,), labels (N,) int64, per-class scores (N, 2)."""
    nodes, inits = _score_nodes()
    nodes += [
        helper.make_node("Reshape", ["score0", "shape1"], ["scores"]),
        helper.make_node("Reshape", ["score0", "shape11"], ["score11"]),
        helper.make_node("Concat", ["score11", "other"], ["logits"], axis=1),
        helper.make_node("Identity", ["box"], ["boxes"]),
        helper.make_node("Identity", ["label"], ["labels"]),
    ]
    inits += [helper.make_tensor("shape1", TensorProto.INT64, [1], [1]),
              helper.make_tensor("shape11", TensorProto.INT64, [2], [1, 1]),
              helper.make_tensor("other", TensorProto.FLOAT, [1, 1], [0.1]),
              helper.make_tensor("box", TensorProto.FLOAT, [1, 4], BOX),
              helper.make_tensor("label", TensorProto.INT64, [1], [0])]
    outputs = [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", 4]),
               helper.make_tensor_value_info("labels", TensorProto.INT64, ["N"]),
               helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N"]),
               helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])]
    return _save(path, nodes, inits, outputs)


def yolo_model(path: Path) -> Path:
    """One (1, 4 + 2, 1) tensor: cx, cy, w, h and two class scores for a single anchor."""
    nodes, inits = _score_nodes()
    cx, cy = (BOX[0] + BOX[2]) / 2, (BOX[1] + BOX[3]) / 2
    nodes += [helper.make_node("Reshape", ["score0", "shape111"], ["s"]),
              helper.make_node("Concat", ["geometry", "s", "other"], ["output0"], axis=1)]
    inits += [helper.make_tensor("shape111", TensorProto.INT64, [3], [1, 1, 1]),
              helper.make_tensor("geometry", TensorProto.FLOAT, [1, 4, 1], [cx, cy, BOX[2] - BOX[0], BOX[3] - BOX[1]]),
              helper.make_tensor("other", TensorProto.FLOAT, [1, 1, 1], [0.1])]
    return _save(path, nodes, inits, [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, 1])])


def _save(path: Path, nodes, inits, outputs) -> Path:
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIDE, SIDE])
    graph = helper.make_graph(nodes, "tiny_detector", [images], outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("build", [boxes_model, yolo_model], ids=["boxes-scores-labels", "yolo"])
def test_an_onnx_detector_from_config_runs_through_tracking_and_clips(build, tmp_path):
    model = build(tmp_path / "tiny.onnx")
    storage = make_root(tmp_path / "out")
    cfg = TrackConfig(domain="tiny", blur_faces=False, detector=f"onnx:{model}",
                      detector_settings={"labels": ["thing", "other"], "score_threshold": 0.3})
    result = track_item({"yid": YID}, storage, cfg)
    assert result.status.value == "ok"
    [record] = read_records(storage, meta_rel("tiny", YID))
    assert record["top10_lbl"] == ["thing", "other"] and record["fn"].startswith(f"ca/{YID}-thing-")
    assert record["top10_wlogit_mu"][0] > record["top10_wlogit_mu"][1] > 0
    # The model's box, mapped from its 64x64 input back to the 176x144 frame.
    assert np.allclose(record["track_bbox"][0], [44, 36, 88, 72], atol=0.5)
    assert record["track_ts"][-1] - record["track_ts"][0] >= 3.0
    assert clips_item({"yid": YID}, storage, cfg).status.value == "ok"
    frames = decode(Path(storage.uri(f"tracks_mp4/tiny/{record['fn']}")))
    assert frames.shape[1:3] == (72, 88)


def test_the_onnx_detector_reports_per_class_scores(tmp_path):
    detector = load_detector(f"onnx:{boxes_model(tmp_path / 'm.onnx')}", {"labels": ["thing", "other"]})
    frame = np.full((100, 200, 3), 102, np.uint8)  # mean 0.4 -> score 0.9
    [dets] = detector.detect([frame])
    assert dets.boxes.tolist() == [[50.0, 25.0, 150.0, 75.0]]
    assert dets.scores == pytest.approx([0.9]) and dets.class_ids.tolist() == [0]
    assert dets.logits == pytest.approx(np.array([[0.9, 0.1]]))


@pytest.mark.parametrize("spec, settings, message", [
    ("yolo:x.pt", {}, "use centerface, onnx:<model.onnx> or torchvision:<weights.pth>"),
    ("onnx:/nonexistent/model.onnx", {}, "does not exist"),
    ("torchvision:/nonexistent/frcnn.pth", {}, "does not exist"),
    ("centerface", {"threshold": 0.3}, r"unknown setting\(s\) \['threshold'\]"),
])
def test_bad_detector_specs_name_the_fix(spec, settings, message):
    with pytest.raises(BadInputError, match=message):
        load_detector(spec, settings)


def test_an_onnx_model_with_the_wrong_label_count_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="3 labels given for a model with 2 classes"):
        load_detector(f"onnx:{boxes_model(tmp_path / 'm.onnx')}", {"labels": ["a", "b", "c"]})


def test_an_unloadable_onnx_file_is_bad_input(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(BadInputError, match="cannot be loaded"):
        load_detector(f"onnx:{bad}")


def test_a_torchvision_weights_file_needs_torch_or_a_real_state_dict(tmp_path):
    """CI has no torch: the spec fails with how to install it; with torch, a file that is not the state dict
    fails naming the expected model. Either way a bad-input error, never a crash mid-shard."""
    weights = tmp_path / "frcnn.pth"
    weights.write_bytes(b"not a state dict")
    with pytest.raises(BadInputError, match="pip install torch torchvision|not a fasterrcnn_resnet50_fpn_v2"):
        load_detector(f"torchvision:{weights}", {"device": "cpu"})
