"""Frame extraction: constant-rate sampling by timestamps, counts = duration x fps (and = ffmpeg's), both
orientations, never-upscale vs mmaction upscale, 1-based names, corrupt input."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from PIL import Image

from include.sample_source.kinetics import generate
from include.visionflow.errors import BadInputError, DecodeError
from include.visionflow.video.frames import FrameOptions, RateSampler, extract_frames
from include.visionflow.video.probe import probe


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    return {p.stem: p for p in (generate(tmp_path_factory.getbasetemp() / "kinetics-media")["videos"]).iterdir()}


def run_sampler(timestamps, fps, end):
    sampler, counts = RateSampler(fps), []
    for t in timestamps:
        counts.append(sampler.push(t))
    counts = counts[1:] + [sampler.finish(end)]  # push() answers for the frame before
    return counts


def test_sampler_drops_frames_of_a_faster_source():
    counts = run_sampler([i / 25 for i in range(25)], 10, 1.0)
    assert sum(counts) == 10 and max(counts) == 1


def test_sampler_repeats_frames_of_a_slower_source():
    counts = run_sampler([i / 5 for i in range(5)], 10, 1.0)
    assert counts == [2, 2, 2, 2, 2]


def test_sampler_uses_timestamps_not_indexes():
    # Variable rate: a burst then a gap. Index-based sampling would give each frame equal weight.
    timestamps = [0.0, 0.01, 0.02, 0.03, 0.5]
    counts = run_sampler(timestamps, 10, 1.0)
    assert sum(counts) == 10 and counts[-1] == 5  # the frame at 0.5 s covers 0.5 .. 1.0


def test_sampler_rejects_bad_rates():
    with pytest.raises(BadInputError):
        RateSampler(0)


def frame_names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_ten_fps_landscape(videos, tmp_path):
    src = videos["bikes000001"]
    count = extract_frames(src, tmp_path, fps=10, short_side=256)
    info = probe(src)
    assert abs(count - info.duration * 10) <= 1
    assert frame_names(tmp_path) == [f"{i:05d}.jpg" for i in range(1, count + 1)]
    with Image.open(tmp_path / "00001.jpg") as im:
        assert im.format == "JPEG" and im.size == (602, 256)


def test_ten_fps_portrait_and_rotated(videos, tmp_path):
    for name in ("portrait001", "rotated0001"):
        out = tmp_path / name
        out.mkdir()
        count = extract_frames(videos[name], out, fps=10, short_side=256)
        assert abs(count - probe(videos[name]).duration * 10) <= 1
        with Image.open(out / "00001.jpg") as im:
            assert im.size == (256, 602), name  # upright: portrait, short side 256


def test_rotated_frames_match_the_portrait_rendering(videos, tmp_path):
    """rotated0001 stores an upright portrait picture sideways with a 90 degree display matrix; portrait001
    stores it upright: both must give the same upright pictures."""
    for name in ("portrait001", "rotated0001"):
        (tmp_path / name).mkdir()
        extract_frames(videos[name], tmp_path / name, fps=10, short_side=256, quality=95)
    a = np.asarray(Image.open(tmp_path / "portrait001" / "00003.jpg"), dtype=float)
    b = np.asarray(Image.open(tmp_path / "rotated0001" / "00003.jpg"), dtype=float)
    assert np.abs(a - b).mean() < 12  # same picture (lossy encodes); a wrong turn gives ~40+
    assert np.abs(a - np.flip(b, axis=(0, 1))).mean() > np.abs(a - b).mean() * 2
    # upright: the picture is letterboxed in the portrait frame (dark bars above and below, not beside it)
    middle = b.shape[0] // 2
    assert b[:20].mean() < 15 and b[middle - 10:middle + 10].mean() > 40


def test_native_rate_keeps_every_frame(videos, tmp_path):
    count = extract_frames(videos["portrait001"], tmp_path, fps=None, short_side=None)
    assert count == probe(videos["portrait001"]).frames == 100


def test_small_video_is_never_upscaled_but_mmaction_mode_does(videos, tmp_path):
    src = videos["carphone001"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    extract_frames(src, tmp_path / "a", fps=10, short_side=256)
    n = extract_frames(src, tmp_path / "b", fps=None, short_side=256, quality=95, pattern="img_%05d.jpg",
                       upscale=True, even=False)
    assert n == 120 and frame_names(tmp_path / "b")[0] == "img_00001.jpg"
    assert Image.open(tmp_path / "a" / "00001.jpg").size == (176, 144)
    assert Image.open(tmp_path / "b" / "img_00001.jpg").size == (312, 256)


def test_one_thread_writes_the_same_frames_as_the_thread_pool(videos, tmp_path):
    for name in ("rotated0001", "bbbunny0001"):
        (tmp_path / f"{name}-1").mkdir()
        (tmp_path / f"{name}-2").mkdir()
        one = extract_frames(videos[name], tmp_path / f"{name}-1", fps=10, short_side=256, threads=1)
        two = extract_frames(videos[name], tmp_path / f"{name}-2", fps=10, short_side=256, threads=2)
        assert one == two > 0
        assert [p.read_bytes() for p in sorted((tmp_path / f"{name}-1").iterdir())] == \
            [p.read_bytes() for p in sorted((tmp_path / f"{name}-2").iterdir())]


@pytest.mark.parametrize("name", ["carphone001", "bbbunny0001"])
def test_counts_equal_ffmpeg_cli(videos, tmp_path, name):
    import imageio_ffmpeg

    ffmpeg_dir, ours = tmp_path / "ffmpeg", tmp_path / "ours"
    ffmpeg_dir.mkdir()
    ours.mkdir()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(videos[name]), "-vf", "fps=10",
                    "-q:v", "5", str(ffmpeg_dir / "%05d.jpg")], check=True)
    assert extract_frames(videos[name], ours, fps=10, short_side=None) == len(list(ffmpeg_dir.iterdir()))


def test_corrupt_video_raises_decode_error(videos, tmp_path):
    with pytest.raises(DecodeError):
        extract_frames(videos["corrupt0001"], tmp_path)


@pytest.mark.parametrize("kwargs", [{"quality": 0}, {"pattern": "frame.jpg"}, {"pattern": "../%05d.jpg"},
                                    {"fps": -1}])
def test_bad_options(kwargs):
    with pytest.raises(BadInputError):
        FrameOptions(**kwargs)
