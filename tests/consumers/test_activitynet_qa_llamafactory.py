"""activitynet_qa outputs read by LLaMA-Factory 0.9.5 itself: the card's command-line flags parsed by its own
argument dataclasses, the ``dataset_info.json`` entry by ``get_dataset_list``, the rows loaded and aligned by
``_load_single_dataset`` (every ``<video>`` prompt with its video, resolved as it resolves them against
``media_dir``), and the first video decoded by the Qwen2-VL plugin; for each ``videos_mode``."""
from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

from tests.consumers.snippets import code_blocks

ROOT = Path(__file__).resolve().parents[2]
NAME = "activitynet_qa_val_500_limit_3s"


def build(sample_source, out: Path, videos_dir: Path, videos_mode: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "activitynet_qa.py")).get_dag("activitynet_qa")
    urls = sample_source.urls
    conf = {"questions_json": urls["activitynet_qa_questions_url"], "answers_json": urls["activitynet_qa_answers_url"],
            "videos_dir": str(videos_dir), "name": "val_q", "type": "val", "n": 500, "seconds": 3,
            "data_dir": str(out), "videos_mode": videos_mode}
    assert dag.test(run_conf=conf).state == "success"


def card_flags(data_dir: Path) -> list[str]:
    (block,) = code_blocks((data_dir / "README-activitynet_qa.md").read_text(), "bash")
    words = shlex.split(block)
    assert words[:2] == ["llamafactory-cli", "train"]
    return words[2:]


def check(seen: dict, data_dir: Path) -> None:
    ours = json.loads((data_dir / f"{NAME}.json").read_text())
    entry = seen["datasets"][NAME]
    assert entry["formatting"] == "sharegpt" and entry["load_from"] == "file"
    assert entry["rows"] == len(ours) > 0
    for row, mine in zip(entry["seen"], ours):
        assert all(row["exists"]) and len(row["videos"]) == 1, row
        assert row["prompt"] == [{"role": "user", "content": mine["messages"][0]["content"]}]
        assert row["prompt"][0]["content"].count("<video>") == len(row["videos"])
        assert row["response"] == [{"role": "assistant", "content": mine["messages"][1]["content"]}]
    assert entry["decoded_frames"] > 0 and min(entry["frame_size"]) > 0


@pytest.mark.parametrize("videos_mode", ["absolute", "relative", "link"])
def test_the_cards_command_line_loads_every_row_with_llamafactory(airflow_db, sample_source, tmp_path, run_reader,
                                                                   videos_mode):
    videos = tmp_path / "activitynet" / "videos"  # a copy the test may delete
    shutil.copytree(sample_source.urls["activitynet_videos_dir"], videos)
    data_dir = tmp_path / "llamafactory" / "data"
    build(sample_source, data_dir, videos, videos_mode)
    assert f"`videos_mode` {videos_mode}" in (data_dir / "README-activitynet_qa.md").read_text()
    written = [r["videos"][0] for r in json.loads((data_dir / f"{NAME}.json").read_text())]
    assert all(os.path.isabs(v) == (videos_mode == "absolute") for v in written), written
    check(run_reader("llamafactory_read.py", json.dumps(card_flags(data_dir))), data_dir)
    if videos_mode == "link":  # hard links: the dataset survives the source folder being cleaned
        assert all(v.startswith(f"videos/{NAME}/") for v in written)
        shutil.rmtree(videos)
        check(run_reader("llamafactory_read.py", json.dumps(card_flags(data_dir))), data_dir)
