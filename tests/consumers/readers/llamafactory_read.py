"""Run in the consumers venv: load a dataset the way LLaMA-Factory's training does before tokenising (its own
argument dataclass from the card's command-line flags, ``dataset_info.json`` parsed by ``get_dataset_list``,
the file loaded and aligned by ``_load_single_dataset``), then decode the first video with the Qwen2-VL
plugin's own reader; print what it saw as one JSON line. Nothing reaches a hub (the caller sets offline mode).

    python llamafactory_read.py '["--dataset", "NAME", "--dataset_dir", "DIR", ...]'
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

from transformers import HfArgumentParser, Seq2SeqTrainingArguments

from llamafactory.data.loader import _load_single_dataset
from llamafactory.data.mm_plugin import get_mm_plugin
from llamafactory.data.parser import get_dataset_list
from llamafactory.hparams import DataArguments, ModelArguments

ROWS = 50  # rows reported back (all of the sample's)


def main(flags: list[str]) -> dict:
    model_args, data_args, _ = HfArgumentParser((ModelArguments, DataArguments)).parse_args_into_dataclasses(
        args=flags, return_remaining_strings=True)
    training_args = Seq2SeqTrainingArguments(output_dir=tempfile.mkdtemp(), report_to="none")
    result = {"media_dir": data_args.media_dir, "datasets": {}}
    for name, attr in zip(data_args.dataset, get_dataset_list(data_args.dataset, data_args.dataset_dir)):
        rows = list(_load_single_dataset(attr, model_args, data_args, training_args))
        seen = [{"videos": r["_videos"], "exists": [os.path.isfile(v) for v in r["_videos"] or []],
                 "prompt": r["_prompt"], "response": r["_response"]} for r in rows[:ROWS]]
        plugin = get_mm_plugin("qwen2_vl", image_token="<|image_pad|>", video_token="<|video_pad|>")
        decoded = plugin._regularize_videos(rows[0]["_videos"][:1], image_max_pixels=128 * 128,
                                            image_min_pixels=32 * 32, video_fps=2.0, video_maxlen=8)
        result["datasets"][name] = {"formatting": attr.formatting, "load_from": attr.load_from,
                                         "rows": len(rows), "seen": seen,
                                         "decoded_frames": len(decoded["videos"][0]),
                                         "frame_size": list(decoded["videos"][0][0].size)}
    return result


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
