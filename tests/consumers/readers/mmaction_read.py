"""Run in the consumers venv: build the datasets of an mmaction2 config with mmaction2's own registry, and say
what its loaders saw (every sample's file or frame folder, label and frame count; a few samples through the
config's pipeline and through PyAV's decode), as one JSON line.

    python mmaction_read.py CONFIG.py
"""
from __future__ import annotations

import json
import os
import sys

from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

import mmaction.datasets  # noqa: F401  registers the datasets and transforms, as register_all_modules does
from mmaction.registry import DATASETS

DECODED = 2  # samples per dataset run through the pipelines (decoding every clip would only cost time)


def sample(info: dict) -> dict:
    if "filename" in info:  # VideoDataset
        return {"file": info["filename"], "exists": os.path.isfile(info["filename"]), "label": info["label"]}
    folder = info["frame_dir"]
    on_disk = sorted(f for f in os.listdir(folder) if f.startswith("img_")) if os.path.isdir(folder) else []
    return {"frame_dir": folder, "total_frames": info["total_frames"], "on_disk": len(on_disk),
            "first": on_disk[0] if on_disk else None, "label": info["label"]}


def pyav_decode(info: dict) -> list[int]:
    """mmaction2's PyAV path on one video (the config may use Decord)."""
    pipeline = Compose([dict(type="PyAVInit"), dict(type="SampleFrames", clip_len=4, frame_interval=2, num_clips=1),
                        dict(type="PyAVDecode")])
    out = pipeline(dict(info, start_index=0, modality="RGB"))
    return [len(out["imgs"]), *out["imgs"][0].shape]


def main(config: str) -> dict:
    # mmaction.utils.register_all_modules() also imports mmaction.models, which the 1.2.0 wheel on PyPI cannot
    # (mmaction/models/localizers/drn is missing from it); the datasets need only their own registrations.
    DefaultScope.get_instance("visionflow-consumers", scope_name="mmaction")
    cfg = Config.fromfile(config)
    result = {}
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if name not in cfg:
            continue
        dataset = DATASETS.build(cfg[name]["dataset"])
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        entry = {"type": type(dataset).__name__, "samples": [sample(i) for i in infos], "pipeline": [], "pyav": []}
        for i in range(min(DECODED, len(dataset))):
            packed = dataset[i]  # the config's whole pipeline: decode, resize, crop, format, pack
            entry["pipeline"].append(list(packed["inputs"].shape))
            if "filename" in infos[i]:
                entry["pyav"].append(pyav_decode(infos[i]))
        result[name] = entry
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
