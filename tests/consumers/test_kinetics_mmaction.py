"""kinetics outputs read by mmaction2 1.2 itself: the card's config lines built by mmaction2's registry into
VideoDataset / RawframeDataset, every sample resolved, frame counts and labels checked against the disk and
label_map.txt, a few samples through the config's pipeline (Decord, RawFrameDecode) and through PyAV."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.consumers.snippets import code_blocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def k400(airflow_db, sample_source, tmp_path_factory):
    from airflow.dag_processing.dagbag import DagBag

    out = tmp_path_factory.mktemp("consumers") / "k400"
    dag = DagBag(dag_folder=str(ROOT / "dags" / "kinetics.py")).get_dag("kinetics")
    conf = {"dataset": "kinetics400", "annotations_url": sample_source.urls["kinetics_annotations_url"],
            "video_source": "url_template", "url_template": sample_source.urls["kinetics_url_template"],
            "local_dir": "", "splits": ["train", "val"], "output_root": str(out), "short_side": 256, "dense": True,
            "frames": True, "limit": None, "seed": 0}
    assert dag.test(run_conf=conf).state == "success"
    return out


def check(seen: dict, out: Path, kind: str) -> None:
    labels = (out / "label_map.txt").read_text().splitlines()
    assert set(seen) == {"train_dataloader", "val_dataloader"}
    for loader, entry in seen.items():
        assert entry["type"] == ("VideoDataset" if kind == "videos" else "RawframeDataset")
        assert entry["samples"], loader
        for s in entry["samples"]:
            path = Path(s.get("file") or s["frame_dir"])
            assert 0 <= s["label"] < len(labels) and labels[s["label"]] == path.parent.name, s
            if kind == "videos":
                assert s["exists"], s
            else:  # mmaction2 reads frames img_00001.jpg .. img_<total_frames>.jpg
                assert s["total_frames"] == s["on_disk"] > 0 and s["first"] == "img_00001.jpg", s
        assert entry["pipeline"] and all(shape[0] == 3 and shape[1] == 3 for shape in entry["pipeline"]), entry
        if kind == "videos":
            assert entry["pyav"] and all(d[0] == 4 and d[3] == 3 for d in entry["pyav"]), entry


def test_the_cards_config_lines_load_every_clip_with_mmaction2(k400, run_reader, tmp_path):
    blocks = code_blocks((k400 / "README.md").read_text())
    assert [b.splitlines()[0] for b in blocks] == ["# mmaction2 config: kinetics400 videos (labels: label_map.txt, "
                                                   "line n = label n)", "# mmaction2 config: kinetics400 rawframes "
                                                   "(labels: label_map.txt, line n = label n)"]
    for block, kind in zip(blocks, ("videos", "rawframes")):
        config = tmp_path / f"{kind}.py"
        config.write_text(block)
        check(run_reader("mmaction_read.py", str(config)), k400, kind)


def test_the_dense_key_frame_cache_loads_like_the_videos(k400, run_reader, tmp_path):
    block = code_blocks((k400 / "README.md").read_text())[0]
    config = tmp_path / "dense.py"
    config.write_text(block.replace("/videos_train'", "/videos_train_256p_dense_cache'")
                      .replace("/videos_val'", "/videos_val_256p_dense_cache'"))
    seen = run_reader("mmaction_read.py", str(config))
    check(seen, k400, "videos")
    assert all("_dense_cache/" in s["file"] for e in seen.values() for s in e["samples"])


def test_mmaction2s_annotation_parser_reads_every_split_and_its_label_map_numbers_alike(k400, run_reader):
    """mmaction2's tools/data/parse_file_list.py on annotations/ (test.csv rewritten label-first, its download
    kept in annotations/original/), and label_map_k400.txt (names with spaces) numbered like label_map.txt."""
    from include.visionflow.formats.mmaction import parse_list

    splits = run_reader("mmaction_tools_read.py", str(k400), "kinetics400")
    folders = (k400 / "label_map.txt").read_text().splitlines()
    names = (k400 / "label_map_k400.txt").read_text().splitlines()
    assert [n.replace(" ", "_") for n in names] == folders and any(" " in n for n in names)
    for split in ("train", "val"):
        theirs = dict(splits[split])
        for entry in parse_list((k400 / f"kinetics400_{split}_list_videos.txt").read_text(), rawframes=False):
            assert theirs[entry.path.removesuffix(".mp4")] == entry.label, entry
    assert splits["test"] and all(label == -1 for _, label in splits["test"])
    original = (k400 / "annotations" / "original" / "test.csv").read_text()
    assert original.splitlines()[0] == "youtube_id,time_start,time_end,split"
    rewritten = (k400 / "annotations" / "kinetics_test.csv").read_text().splitlines()
    assert rewritten[0] == "label,youtube_id,time_start,time_end,split"
    assert [line.removeprefix(",") for line in rewritten[1:]] == original.splitlines()[1:]
