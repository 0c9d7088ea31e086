from __future__ import annotations

import pytest

from include.visionflow.errors import BadInputError, BadRowError, ItemError
from include.visionflow.manifest import Status
from include.visionflow.paths import join_under, label_dir, safe_component, safe_relpath


@pytest.mark.parametrize(
    ("label", "folder"),
    [
        pytest.param("air drumming", "air_drumming", id="spaces"),
        pytest.param('passing "ball"', "passing_ball", id="quotes-dropped-like-mmaction"),
        pytest.param("massaging person's head", "massaging_person's_head", id="apostrophe-kept"),
        pytest.param("  tai   chi ", "tai_chi", id="runs-of-space"),
        pytest.param("tab\there", "tab_here", id="tab-is-space"),
        pytest.param("100%", "100%", id="percent-kept"),
    ],
)
def test_label_dir(label, folder):
    assert label_dir(label) == folder


@pytest.mark.parametrize("bad", ["", "   ", ".", "..", '""', "x" * 201, "a/b", "../etc", "back\\slash",
                                 "nul\x00x"])
def test_unusable_labels_are_refused(bad):
    with pytest.raises(BadRowError):
        label_dir(bad)


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "/abs", "..\\..\\win", "x\ny", "nul\x00",
                                 " padded", "padded ", ".hidden", ".part", "é" * 101,
                                 "xx/../../../summary", "../extended_targets/images/ab/0001"])
def test_hostile_ids_are_bad_rows(bad):
    with pytest.raises(BadRowError) as info:
        safe_component(bad, what="image id")
    # counted in the manifest as a bad row, and a BadInputError when it is a param
    assert info.value.status is Status.BAD_ROW and info.value.reason == "unsafe_image_id"
    assert isinstance(info.value, ItemError) and isinstance(info.value, BadInputError)


@pytest.mark.parametrize("good", ["000002b66c9c498e", "-zZ_9", "video7020", "54322086@N00_2408598493_274c77d26a.avi",
                                  "a b", "x" * 200])
def test_ordinary_ids_pass_unchanged(good):
    assert safe_component(good) == good


def test_safe_relpath_keeps_folders_and_fixes_spaces():
    assert safe_relpath("k400/air drumming/clip") == "k400/air_drumming/clip"
    assert safe_relpath("./a//b/") == "a/b"
    for bad in ["/etc/passwd", "a/../../b", "", ".", "a\\b"]:
        with pytest.raises(BadRowError):
            safe_relpath(bad)


def test_join_under_refuses_escapes():
    assert join_under("videos_train", "abseiling/x.mp4") == "videos_train/abseiling/x.mp4"
    assert join_under("", "a/b") == "a/b"
    for parts in [("../x",), ("a/../../x",), ("/abs",), (".",), ("a", "..")]:
        with pytest.raises(BadRowError):
            join_under("root", *parts)
