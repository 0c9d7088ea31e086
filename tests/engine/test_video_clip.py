"""Trim [start, end) and resize to a short side (both orientations), with and without a dense GOP."""
from __future__ import annotations

import av
import pytest

from include.sample_source.kinetics import generate
from include.visionflow.errors import BadInputError, DecodeError
from include.visionflow.video.clip import ClipSpec, resize_video, transcode, trim_clip
from include.visionflow.video.probe import probe


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    return {p.stem: p for p in (generate(tmp_path_factory.getbasetemp() / "kinetics-media")["videos"]).iterdir()}


def key_frame_indexes(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = sorted((p for p in container.demux(stream) if p.size), key=lambda p: p.pts)
        return [i for i, p in enumerate(packets) if p.is_keyframe], len(packets)


def test_trim_keeps_the_half_open_range(videos, tmp_path):
    info = trim_clip(videos["bikes000001"], tmp_path / "c.mp4", 2, 4)
    assert info.codec == "h264" and (info.width, info.height) == (640, 272)
    assert info.frames == 50 and info.duration == pytest.approx(2.0, abs=0.04)
    with av.open(str(tmp_path / "c.mp4")) as c:
        first = next(c.decode(video=0))
        assert first.pts == 0  # the clip starts at zero


def test_trim_of_a_fractional_rate_video(videos, tmp_path):
    info = trim_clip(videos["carphone001"], tmp_path / "c.mp4", 1, 3)
    assert abs(info.frames - 2 * 29.97) <= 1


def test_trim_outside_the_video_is_an_empty_clip(videos, tmp_path):
    with pytest.raises(DecodeError) as err:
        trim_clip(videos["portrait001"], tmp_path / "c.mp4", 30, 32)
    assert err.value.reason == "empty_clip" and not (tmp_path / "c.mp4").exists()


def test_bad_ranges_are_refused():
    for start, end in [(5, 3), (2, 2), (-1, 3)]:
        with pytest.raises(BadInputError):
            ClipSpec(start=start, end=end)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        pytest.param("bbbunny0001", (456, 256), id="landscape"),
        pytest.param("portrait001", (256, 602), id="portrait"),
        pytest.param("rotated0001", (256, 602), id="display-matrix-turned-upright"),
        pytest.param("carphone001", (312, 256), id="small-upscaled-like-mmaction"),
    ],
)
def test_resize_short_side_both_orientations(videos, tmp_path, name, size):
    src = tmp_path / "src.mp4"
    trim_clip(videos[name], src, 0, 1)  # one second keeps the test fast
    info = resize_video(src, tmp_path / "r.mp4", short_side=256, dense=True)
    assert (info.width, info.height) == size and info.rotation == 0
    assert info.frames == probe(src).frames


def test_dense_gop_puts_a_key_frame_every_16_frames(videos, tmp_path):
    src = tmp_path / "src.mp4"
    trim_clip(videos["bikes000001"], src, 0, 3)
    resize_video(src, tmp_path / "dense.mp4", 256, dense=True)
    resize_video(src, tmp_path / "sparse.mp4", 256, dense=False)
    keys, total = key_frame_indexes(tmp_path / "dense.mp4")
    assert total == 75 and keys[0] == 0
    assert max(b - a for a, b in zip(keys, keys[1:] + [total])) <= 16
    sparse_keys, _ = key_frame_indexes(tmp_path / "sparse.mp4")
    assert len(sparse_keys) < len(keys)


def test_transcode_without_changes_copies_the_picture_size(videos, tmp_path):
    info = transcode(videos["portrait001"], tmp_path / "t.mp4", ClipSpec(end=1))
    assert (info.width, info.height) == (272, 640) and info.frames == 25


def test_corrupt_source(videos, tmp_path):
    with pytest.raises(DecodeError):
        resize_video(videos["corrupt0001"], tmp_path / "r.mp4")


def test_trim_copies_audio_and_resize_drops_it(videos, tmp_path):
    info = trim_clip(videos["bbbunny0001"], tmp_path / "c.mp4", 1, 3)
    assert info.has_audio
    with av.open(str(tmp_path / "c.mp4")) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"  # copied, not re-encoded
        times = [float(p.pts * p.time_base) for p in c.demux(audio) if p.size]
    assert 0 <= times[0] < 0.05 and 1.9 < times[-1] < 2.0  # same origin as the video, inside [0, 2)
    resized = resize_video(tmp_path / "c.mp4", tmp_path / "r.mp4", 256)
    assert not resized.has_audio and not probe(tmp_path / "r.mp4").has_audio


def test_damage_in_the_middle_of_a_video_is_a_decode_error(videos, tmp_path):
    """Noise over a stretch of the coded data: the decode thread's error reaches the caller, and no
    half-written clip is left behind."""
    import random

    data = bytearray(videos["bikes000001"].read_bytes())
    rng = random.Random(1)
    middle = len(data) // 3
    data[middle:middle + 200_000] = bytes(rng.randrange(256) for _ in range(200_000))
    (tmp_path / "damaged.mp4").write_bytes(bytes(data))
    with pytest.raises(DecodeError) as err:
        resize_video(tmp_path / "damaged.mp4", tmp_path / "r.mp4")
    assert err.value.reason == "corrupt_video" and not (tmp_path / "r.mp4").exists()
