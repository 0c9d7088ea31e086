from __future__ import annotations

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.safe_names import join_under, label_dir, safe_component, safe_relpath


@pytest.mark.parametrize(
    ("label", "folder"),
    [
        pytest.param("air drumming", "air_drumming", id="spaces"),
        pytest.param('passing "ball"', "passing_ball", id="quotes-dropped-like-mmaction"),
        pytest.param("massaging person's head", "massaging_person's_head", id="apostrophe-kept"),
        pytest.param("  tai   chi ", "tai_chi", id="runs-of-space"),
        pytest.param("a/b", "a%2Fb", id="slash-escaped"),
        pytest.param("../etc", "..%2Fetc", id="dotdot-with-slash-escaped"),
        pytest.param("back\\slash", "back%5Cslash", id="backslash"),
        pytest.param("100%", "100%25", id="percent-escaped-so-escapes-are-unambiguous"),
        pytest.param("tab\there", "tab_here", id="tab-is-space"),
        pytest.param("nul\x00x", "nul%00x", id="control"),
    ],
)
def test_label_dir(label, folder):
    assert label_dir(label) == folder


@pytest.mark.parametrize("bad", ["", "   ", ".", "..", '""', "x" * 256])
def test_unusable_names_are_refused(bad):
    with pytest.raises(BadInputError):
        label_dir(bad)


def test_component_never_contains_a_separator():
    for name in ["a/b/c", "/abs", "..\\..\\win", "x\ny"]:
        assert "/" not in safe_component(name) and "\\" not in safe_component(name)


def test_safe_relpath_keeps_folders_and_fixes_components():
    assert safe_relpath("k400/air drumming/clip") == "k400/air_drumming/clip"
    assert safe_relpath("./a//b/") == "a/b"
    for bad in ["/etc/passwd", "a/../../b", "", "."]:
        with pytest.raises(BadInputError):
            safe_relpath(bad)


def test_join_under_refuses_escapes():
    assert join_under("videos_train", "abseiling/x.mp4") == "videos_train/abseiling/x.mp4"
    assert join_under("", "a/b") == "a/b"
    for parts in [("../x",), ("a/../../x",), ("/abs",), (".",), ("a", "..")]:
        with pytest.raises(BadInputError):
            join_under("root", *parts)
