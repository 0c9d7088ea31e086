"""Probe and size rules: display size honours rotation; both orientations; corrupt files are DecodeErrors."""
from __future__ import annotations

import pytest

from include.sample_source.kinetics import generate
from include.visionflow.errors import DecodeError
from include.visionflow.video.probe import normalize_rotation, probe, target_size


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    return {p.stem: p for p in (generate(tmp_path_factory.getbasetemp() / "kinetics-media")["videos"]).iterdir()}


def test_landscape(videos):
    info = probe(videos["bikes000001"])
    assert (info.width, info.height, info.rotation) == (640, 272, 0)
    assert info.fps == 25 and info.duration == pytest.approx(10.0) and info.frames == 250
    assert info.codec == "h264" and not info.is_portrait and info.short_side == 272


def test_portrait_pixels(videos):
    info = probe(videos["portrait001"])
    assert info.display_size == (272, 640) and info.is_portrait and info.rotation == 0


def test_rotated_display_matrix_counts_as_portrait(videos):
    info = probe(videos["rotated0001"])
    assert (info.width, info.height) == (640, 272)
    assert info.rotation == 90 and info.display_size == (272, 640) and info.is_portrait


def test_audio_is_noticed(videos):
    assert probe(videos["bbbunny0001"]).has_audio


def test_corrupt_and_non_videos_raise_decode_error(videos, tmp_path):
    with pytest.raises(DecodeError) as err:
        probe(videos["corrupt0001"])
    assert err.value.reason in ("unreadable_video", "corrupt_video")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with pytest.raises(DecodeError):
        probe(text)
    with pytest.raises(DecodeError):
        probe(tmp_path / "missing.mp4")


@pytest.mark.parametrize(
    ("size", "short", "upscale", "even", "expected"),
    [
        pytest.param((1280, 720), 256, False, True, (456, 256), id="landscape-like-scale=-2:256"),
        pytest.param((720, 1280), 256, False, True, (256, 456), id="portrait-like-scale=256:-2"),
        pytest.param((640, 272), 256, False, True, (602, 256), id="rounded-to-even"),
        pytest.param((176, 144), 256, False, True, (176, 144), id="never-upscale"),
        pytest.param((175, 143), 256, False, True, (174, 142), id="odd-kept-size-made-even"),
        pytest.param((176, 144), 256, True, False, (312, 256), id="mmcv-upscale-truncates"),
        pytest.param((256, 256), 256, False, True, (256, 256), id="square"),
        pytest.param((640, 272), None, False, False, (640, 272), id="no-scaling"),
    ],
)
def test_target_size(size, short, upscale, even, expected):
    assert target_size(*size, short, upscale=upscale, even=even) == expected


def test_rotation_snaps_to_quarter_turns():
    assert [normalize_rotation(x) for x in (0, None, 90, -90, 180.0, 270, 360, 89.6)] == [0, 0, 90, 270, 180, 270,
                                                                                         0, 90]
