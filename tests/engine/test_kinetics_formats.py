"""mmaction2 names and file lists (formats.md 5.5)."""
from __future__ import annotations

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.formats.mmaction import (
    ListEntry,
    clip_key,
    clip_stem,
    label_index,
    label_of,
    list_name,
    parse_list,
    render_list,
)


def test_clip_names_follow_download_py():
    assert clip_stem("0wR5jVB-WPk", "417", "427") == "0wR5jVB-WPk_000417_000427"
    assert clip_stem("abc", "40.0", "50.9") == "abc_000040_000050"  # int(float(x)), as upstream
    assert clip_key("air drumming", "_dbcJuKJQNs", 40, 50) == "air_drumming/_dbcJuKJQNs_000040_000050"
    assert clip_key("", "x", 0, 10) == "test/x_000000_000010"  # unlabelled rows go to test/
    with pytest.raises(BadInputError):
        clip_stem("x", "soon", "10")


def test_labels_are_sorted_train_class_folders():
    labels = label_index(["zumba", "air drumming", 'passing "ball"', "abseiling", "zumba", ""])
    assert labels == {"abseiling": 0, "air_drumming": 1, "passing_ball": 2, "zumba": 3}
    assert label_of("zumba/x_000001_000002", labels) == 3
    assert label_of("test/x_000001_000002", labels) == -1
    assert label_of("unknown/x", labels) is None


def test_line_formats():
    assert ListEntry("abseiling/0wR5jVB-WPk_000417_000427.mp4", 0).line() == (
        "abseiling/0wR5jVB-WPk_000417_000427.mp4 0"
    )
    assert ListEntry("abseiling/0wR5jVB-WPk_000417_000427", 3, 300).line() == (
        "abseiling/0wR5jVB-WPk_000417_000427 300 3"
    )
    assert list_name("kinetics400", "val", "rawframes") == "kinetics400_val_list_rawframes.txt"
    with pytest.raises(BadInputError):
        list_name("kinetics400", "val", "frames")


def test_seeded_shuffle_is_reproducible_and_complete():
    entries = [ListEntry(f"c/v{i:03d}.mp4", i % 4) for i in range(50)]
    first, again, other = render_list(entries, 7), render_list(entries, 7), render_list(entries, 8)
    assert first == again and first != other
    assert sorted(first.splitlines()) == sorted(e.line() for e in entries) == sorted(other.splitlines())
    assert render_list(entries, None).splitlines() == [e.line() for e in entries]
    assert first.endswith("\n")


def test_lists_parse_back():
    videos = [ListEntry("a/x.mp4", 0), ListEntry("b/y.mp4", 1)]
    frames = [ListEntry("a/x", 0, 50), ListEntry("b/y", 1, 60)]
    assert parse_list(render_list(videos, None), rawframes=False) == videos
    assert parse_list(render_list(frames, None), rawframes=True) == frames
    with pytest.raises(BadInputError):
        parse_list("a/x 1 2 3\n", rawframes=False)
