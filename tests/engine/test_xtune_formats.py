"""AdaCLIP annotation splits and LLaMA-Factory rows / dataset_info.json, against stack-facts.md's examples."""
from __future__ import annotations

import json
import multiprocessing

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.formats import adaclip, llamafactory


def test_msrvtt_matches_the_reference_example():
    data = {"videos": [{"video_id": "video7020", "start time": 221.77, "end time": 233.08, "split": "test"},
                       {"video_id": "video0", "start time": 1.0, "end time": 2.5, "split": "train"},
                       {"video_id": "video9", "start time": 0, "end time": 9, "split": "train"}],
            "sentences": [{"caption": "c1", "video_id": "video0"}, {"caption": "c2", "video_id": "video0"},
                          {"caption": "not the jsfusion one", "video_id": "video7020"}]}
    files = {"MSRVTT_data.json": json.dumps(data).encode(), "MSRVTT_train.9k.csv": b"video_id\nvideo0\nvideo9\n",
             "MSRVTT_JSFUSION_test.csv": b"key,vid_key,video_id,sentence\n"
                                         b"ret0,msr7020,video7020,a woman creating a fondant baby and flower\n"}
    train, val = adaclip.build("msrvtt", files, {"video7020": "mp4", "video0": "webm,mp4"})
    assert adaclip.dumps(val.videos) == ('{"video7020": {"extension": "mp4", "timestamps": [[221.77, 233.08]], '
                                        '"sentences": ["a woman creating a fondant baby and flower"]}}')
    assert train.videos == {"video0": {"extension": "mp4", "timestamps": [[1.0, 2.5]], "sentences": ["c1", "c2"]}}
    assert train.missing == ["video9"]  # left out and reported; upstream wrote {"extension": ""}


def test_activitynet_val_1_becomes_val_with_every_field():
    entry = {"duration": 55.15, "timestamps": [[0.28, 55.15], [13.79, 54.32]],
             "sentences": ["A weight lifting tutorial is given.", "  The coach helps."]}
    files = {"train.json": b"{}", "val_1.json": json.dumps({"v_uqiMw7tQ1Cc": entry, "v_gone": entry}).encode()}
    train, val = adaclip.build("activitynet", files, {"v_uqiMw7tQ1Cc": "mp4"})
    assert (train.split, val.split) == ("train", "val")
    assert adaclip.dumps(val.videos) == (
        '{"v_uqiMw7tQ1Cc": {"extension": "mp4", "sentences": ["A weight lifting tutorial is given.", '
        '"  The coach helps."], "timestamps": [[0.28, 55.15], [13.79, 54.32]], "duration": 55.15}}')
    assert val.missing == ["v_gone"]


def test_didemo_keeps_the_original_extension_in_the_key_and_filters_by_the_ce_list():
    key = "54322086@N00_2408598493_274c77d26a.avi"
    rows = [{"video": key, "description": "a man walks"}, {"video": key, "description": "he stops."},
            {"video": "other.avi", "description": "not in the list"}]
    files = {f"{s}_data.json": json.dumps(rows if s == "train" else []).encode() for s in ("train", "val", "test")}
    lists = {f"{s}_list.txt": (key + "\n").encode() for s in ("train", "val", "test")}
    train, val, test = adaclip.build("didemo", files, {key: "mp4", "other.avi": "mp4"}, lists)
    assert train.videos == {key: {"extension": "mp4", "sentences": ["a man walks.", "he stops."]}}
    assert val.videos == test.videos == {}


def test_extension_follows_upstream_preference_and_bad_inputs_are_named():
    assert adaclip.extension_of("v", {"v": "avi,webm,mkv"}) == "mkv"
    assert adaclip.extension_of("v", {"v": "mov"}) is None
    with pytest.raises(BadInputError, match="MSRVTT_train.9k.csv"):
        adaclip.build("msrvtt", {"MSRVTT_data.json": b"{}"}, {})
    with pytest.raises(BadInputError, match="dataset must be one of"):
        adaclip.build("kinetics", {}, {})


def test_sharegpt_video_row_and_entry_match_the_reference():
    row = llamafactory.video_row("what is he doing", "riding", "/data/v_TIEzvhv6xaI.mp4")
    assert row == {"messages": [{"content": "<video>what is he doing?", "role": "user"},
                                {"content": "riding", "role": "assistant"}], "videos": ["/data/v_TIEzvhv6xaI.mp4"]}
    llamafactory.check_row(row)
    with pytest.raises(ValueError):
        llamafactory.check_row({**row, "videos": []})
    assert llamafactory.sharegpt_video_entry("activitynet_qa_2000_limit_20s.json") == {
        "file_name": "activitynet_qa_2000_limit_20s.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}


def test_merge_keeps_other_entries_and_refuses_a_broken_file(tmp_path):
    info = tmp_path / "dataset_info.json"
    info.write_text(json.dumps({"caltech101": {"file_name": "caltech101.json"},
                                "ActivityNet": {"file_name": "ActivityNet.json"}}))
    merged = llamafactory.merge_dataset_info(tmp_path, "mine", {"file_name": "mine.json"})
    assert list(merged) == ["caltech101", "ActivityNet", "mine"]
    assert json.loads(info.read_text()) == merged
    llamafactory.merge_dataset_info(tmp_path, "mine", {"file_name": "mine2.json"})
    assert json.loads(info.read_text())["mine"] == {"file_name": "mine2.json"}
    info.write_text("[1, 2")
    with pytest.raises(BadInputError, match="not valid JSON"):
        llamafactory.merge_dataset_info(tmp_path, "x", {})
    assert info.read_text() == "[1, 2"  # never overwritten


def _writer(data_dir: str, prefix: str, count: int) -> None:
    for i in range(count):
        llamafactory.merge_dataset_info(data_dir, f"{prefix}_{i}", {"file_name": f"{prefix}_{i}.json"})


def test_two_concurrent_writers_lose_no_entry(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), name, 40)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert set(info) == {f"{n}_{i}" for n in ("a", "b") for i in range(40)}
