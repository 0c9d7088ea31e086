"""The video_retrieval DAG end to end with dag.test() on the sample source's MSRVTT, DiDeMo and ActivityNet."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.report.report_html import image_titled, read_report, summary_of

ROOT = Path(__file__).resolve().parents[2]


def conf(dataset, data_root, **extra):
    """Every param spelled out: in one process, dag.test() can carry a previous run's conf over as params."""
    return {"dataset": dataset, "videos_url": "", "videos_dir": "", "annotations_url": "", "splits_url": "",
            "data_root": str(data_root), "frames_dir": "", "frame_rate": -1, "frame_size": -1, **extra}


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "video_retrieval.py")).get_dag("video_retrieval")


def frames_of(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def adaclip_count(video: Path, out: Path, frame_rate: int) -> int:
    """Frames AdaCLIP's extractor writes: ``ffmpeg -i IN -q:v 2 -r F OUT/image_%05d.jpg`` (imageio-ffmpeg's)."""
    import subprocess

    from imageio_ffmpeg import get_ffmpeg_exe

    out.mkdir(parents=True)
    subprocess.run([get_ffmpeg_exe(), "-nostats", "-loglevel", "0", "-i", str(video), "-q:v", "2", "-r",
                    str(frame_rate), str(out / "image_%05d.jpg")], check=True)
    return len(list(out.glob("*.jpg")))


def test_msrvtt_from_the_zip(airflow_db, dag, sample_source, tmp_path):
    urls = sample_source.urls
    dr = dag.test(run_conf=conf("msrvtt", tmp_path, videos_url=urls["msrvtt_videos_url"],
                                annotations_url=urls["msrvtt_annotations_url"], frame_rate=2, frame_size=64))
    assert dr.state == "success"
    assert sorted(p.name for p in (tmp_path / "videos" / "msrvtt").iterdir() if not p.name.startswith(".")) == [
        "video0.mp4", "video1.webm", "video7020.mkv", "video7021.mp4"]
    train = json.loads((tmp_path / "annots/msrvtt/train.json").read_text())
    val = json.loads((tmp_path / "annots/msrvtt/val.json").read_text())
    assert list(train) == ["video0", "video1"]  # video2 is annotated but missing: left out, not "extension": ""
    assert train["video1"] == {"extension": "webm", "timestamps": [[184.33, 206.89]],
                               "sentences": ["a phone call in a car"]}
    assert val["video7020"]["sentences"] == ["a woman creating a fondant baby and flower"]
    report = json.loads((tmp_path / "annots/msrvtt/report.json").read_text())
    assert report["splits"]["train"]["missing_examples"] == ["video2"]
    frames = tmp_path / "frames" / "msrvtt"
    for video in sorted((tmp_path / "videos" / "msrvtt").glob("video*")):  # counted as ffmpeg -r 2 counts
        expected = adaclip_count(video, tmp_path / "ffmpeg" / video.stem, 2)
        assert frames_of(frames / video.stem) == [f"image_{i:05d}.jpg" for i in range(1, expected + 1)]
    assert Image.open(frames / "video0/image_00001.jpg").size == (151, 64)  # scale=-1:64 rounding
    assert Image.open(frames / "video7021/image_00001.jpg").size == (64, 151)  # portrait
    summary = json.loads((tmp_path / "reports/video_retrieval_msrvtt.json").read_text())
    assert summary["counts"]["ok"] == 4 and summary["annotated"]["train"]["without_frames"] == []
    # The run report: frames per video, durations of the videos, a frame strip per sampled video.
    from include.visionflow.report.publish import run_report_rel

    latest = tmp_path / "report-video_retrieval-msrvtt.html"
    assert latest.read_text() == (tmp_path / run_report_rel("video_retrieval", dr.run_id)).read_text()
    headings, images = read_report(latest)
    assert "Frame strips of sampled videos" in headings
    assert image_titled(images, "Frames per item").width > 0
    assert image_titled(images, "Video duration (4 of 4 videos)").width > 0
    strips = image_titled(images, "Frame strips of sampled videos")
    assert strips.height > 4 * 96  # four videos, one strip each
    assert summary_of(latest)["frames"] == str(summary["frames"])
    card = (tmp_path / "README.md").read_text()  # the dataset card: AdaCLIP's annots and frames_dir
    assert "| `annots/msrvtt/train.json` |" in card
    # The card's configs/msrvtt.json line, followed as AdaCLIP's loader does (it is not on the registry):
    # every annotated video's frames at <frames_dir>/<video id>/image_00001.jpg ...
    from tests.consumers.snippets import code_blocks

    (config,) = code_blocks(card, "json")
    frames_dir = Path(json.loads(config)["frames_dir"])
    assert frames_dir == frames
    split_files = sorted((tmp_path / "annots/msrvtt").glob("[tv]*.json"))  # train.json, val.json
    assert [f.name for f in split_files] == ["train.json", "val.json"]
    for split_file in split_files:
        for video_id in json.loads(split_file.read_text()):
            assert (frames_dir / video_id / "image_00001.jpg").is_file(), (split_file.name, video_id)


def test_didemo_keys_keep_their_extension(airflow_db, dag, sample_source, tmp_path):
    urls = sample_source.urls
    dr = dag.test(run_conf=conf("didemo", tmp_path, videos_dir=urls["didemo_videos_dir"],
                                annotations_url=urls["didemo_annotations_url"], splits_url=urls["didemo_splits_url"],
                                frames_dir=str(tmp_path / "f"), frame_rate=1, frame_size=48))
    assert dr.state == "success"
    val = json.loads((tmp_path / "annots/didemo/val.json").read_text())
    assert val == {"26292851@N04_4253489686_265c3c8051.m4v": {"extension": "mp4", "sentences": ["the camera turns."]}}
    train = json.loads((tmp_path / "annots/didemo/train.json").read_text())
    assert list(train) == ["54322086@N00_2408598493_274c77d26a.avi"]  # CE list filter; missing video left out
    assert train["54322086@N00_2408598493_274c77d26a.avi"]["sentences"] == ["a man walks.", "the bikes pass."]
    for key in (*train, *val):
        assert (tmp_path / "f" / key / "image_00001.jpg").is_file()
    # Stored landscape with a 90 degree flag: frames come out upright, the displayed short side scaled.
    assert Image.open(tmp_path / "f/26292851@N04_4253489686_265c3c8051.m4v/image_00001.jpg").size == (48, 113)


def test_activitynet_rerun_skips_and_a_bad_video_is_reported(airflow_db, dag, sample_source, tmp_path):
    urls = sample_source.urls
    run = conf("activitynet", tmp_path, videos_dir=urls["activitynet_videos_dir"],
               annotations_url=urls["activitynet_annotations_url"], frame_rate=1, frame_size=32)
    assert dag.test(run_conf=run).state == "success"
    val = json.loads((tmp_path / "annots/activitynet/val.json").read_text())
    assert val["v_FsS_NCZEfaI"]["extension"] == "webm" and val["v_FsS_NCZEfaI"]["duration"] == 30.5
    summary = json.loads((tmp_path / "reports/video_retrieval_activitynet.json").read_text())
    assert summary["counts"]["ok"] == 5 and [f["key"] for f in summary["failures"]] == ["v_corrupt0001"]
    first = (tmp_path / "frames/activitynet/v_uqiMw7tQ1Cc/image_00001.jpg").stat().st_mtime_ns
    assert dag.test(run_conf=run).state == "success"
    again = json.loads((tmp_path / "reports/video_retrieval_activitynet.json").read_text())
    assert again["reused"] == 5
    assert (tmp_path / "frames/activitynet/v_uqiMw7tQ1Cc/image_00001.jpg").stat().st_mtime_ns == first


def test_a_failing_first_step_fails_the_run(airflow_db, dag, tmp_path):
    dr = dag.test(run_conf=conf("activitynet", tmp_path, videos_dir=str(tmp_path / "nowhere")))
    assert dr.state == "failed"
    assert not (tmp_path / "annots").exists()


def served(sample_source, folder: Path, prefix: str) -> str:
    """``folder`` on the sample source (127.0.0.1), under its own prefix; returns the base URL."""
    from include.sample_source.files import FolderFiles

    sample_source.mount(f"/{prefix}", FolderFiles(folder))
    return f"{sample_source.base_url}/{prefix}"


def test_a_videos_url_bomb_fails_the_run_before_it_expands(airflow_db, dag, sample_source, tmp_path, capfd):
    """Issue 28: a 300 KB zip of one 300 MB member. The shared archive budget refuses it, nothing is written,
    and the videos step fails at once (bad input: no retries) with one line naming the archive and member."""
    import zipfile

    served_dir = tmp_path / "served"
    served_dir.mkdir()
    with zipfile.ZipFile(served_dir / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("MSRVTT/videos/all/video9.mp4", "w") as fh:
        zeros = bytes(1 << 20)
        for _ in range(300):
            fh.write(zeros)
    url = f"{served(sample_source, served_dir, 'issue28-bomb')}/bomb.zip"
    dr = dag.test(run_conf=conf("msrvtt", tmp_path / "data", videos_url=url,
                                annotations_url=sample_source.urls["msrvtt_annotations_url"]))
    assert dr.state == "failed"
    videos = dr.get_task_instance("videos")
    assert videos.state == "failed" and videos.try_number == 1
    unpacked = tmp_path / "data" / "videos" / "msrvtt"
    assert not [p for p in unpacked.rglob("*") if p.is_file()]  # no member, no marker, no download left
    task_log = "".join(capfd.readouterr())  # dag.test() logs the task's failure to the console
    assert f"videos_url {url}: member 'MSRVTT/videos/all/video9.mp4' takes the contents past" in task_log


def test_a_member_with_an_unsafe_name_is_a_bad_row_and_the_run_succeeds(airflow_db, dag, sample_source, tmp_path):
    """Issue 28: a member named " lead.mp4" used to fail the run after part of the archive was unpacked. It is
    skipped, kept in the unpack marker, and counted as a bad row in the family's report and the run report."""
    import zipfile

    video = Path(sample_source.urls["msrvtt_videos_dir"]) / "video0.mp4"
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    with zipfile.ZipFile(served_dir / "videos.zip", "w") as zf:
        zf.write(video, "MSRVTT/videos/all/ lead.mp4")
        zf.write(video, "MSRVTT/videos/all/video0.mp4")
    url = f"{served(sample_source, served_dir, 'issue28-lead')}/videos.zip"
    dr = dag.test(run_conf=conf("msrvtt", tmp_path, videos_url=url, frame_rate=1, frame_size=32,
                                annotations_url=sample_source.urls["msrvtt_annotations_url"]))
    assert dr.state == "success"
    unpacked = tmp_path / "videos" / "msrvtt"
    assert sorted(p.name for p in unpacked.iterdir() if not p.name.startswith(".")) == ["video0.mp4"]
    marker = json.loads((unpacked / ".source.json").read_text())
    assert marker["videos"] == 1
    assert [(m["member"], m["reason"]) for m in marker["bad_members"]] == [
        ("MSRVTT/videos/all/ lead.mp4", "unsafe_video_file_name")]
    summary = json.loads((tmp_path / "reports/video_retrieval_msrvtt.json").read_text())
    assert (summary["counts"]["ok"], summary["counts"]["bad_row"], summary["items"]) == (1, 1, 2)
    [failure] = summary["failures"]
    assert failure["key"] == "MSRVTT/videos/all/ lead.mp4" and failure["reason"] == "unsafe_video_file_name"
    assert "surrounding whitespace" in failure["detail"]
    assert (tmp_path / "frames/msrvtt/video0/image_00001.jpg").is_file()
    assert "unsafe_video_file_name" in (tmp_path / "report-video_retrieval-msrvtt.html").read_text()
