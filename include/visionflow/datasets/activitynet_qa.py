"""ActivityNet-QA as a LLaMA-Factory video dataset for Qwen2-VL (formats.md 4.3; seed 001).

``generate_llama_json_limit_frames.py`` rebuilt as three steps:

1. plan: questions (``<name>.json``: ``video_name``, ``question``, ``question_id``) joined with answers
   (``<type>_a.json``) on ``question_id``; each question's video found by its stem ``v_<video_name>`` in
   *one* index of ``videos_dir`` (upstream walks the whole folder once per question, and takes any file
   whose name merely *starts* with the stem); the distinct videos go into shards.
2. probe (mapped): each video's duration, the video stream's, falling back to the container's (PyAV, like
   ffprobe, gives no stream duration for many mkv/webm files; upstream then counted 0 and dropped them).
3. write: in question order, keep questions whose video is longer than ``seconds``, stop at ``n``, write
   ``activitynet_qa_<type>_<n>_limit_<seconds>s.json`` (sharegpt, indent 4) and merge its entry into
   ``dataset_info.json`` (other entries kept; the entry is named after the file, which upstream's example
   did not do). Unmatched questions, missing, unreadable and too-short videos are counted, with examples.

A malformed entry of either file (not an object, a ``question_id`` that is not text, no ``question`` or
``answer`` text) is a bad row: planned with its error into shards of their own (label ``bad_rows``) that the
probe step runs through the shard runner like the videos, so each is one ``bad_row`` manifest row, keyed by
its place (``answers_json entry 3``) since its id may be unusable, and the report counts them.

Video paths in the rows follow ``videos_mode`` (:func:`llamafactory.video_reference`): absolute (upstream's,
the default), relative to ``data_dir``, or links under ``data_dir/videos/<entry>/``; the card gives the
``media_dir`` that resolves them.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from include.visionflow.datasets import remote_inputs
from include.visionflow.errors import BadInputError, BadRowError, DecodeError
from include.visionflow.formats import llamafactory
from include.visionflow.inputs import local_input
from include.visionflow.manifest import ItemResult, ShardStats, Status, read_manifest
from include.visionflow.shards import ShardSpec, process_shard, rows_per_shard, write_shards
from include.visionflow.storage import Storage
from include.visionflow.video.probe import open_video

log = logging.getLogger(__name__)

MILVLG = "https://raw.githubusercontent.com/MILVLG/activitynet-qa/master/dataset/"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm")  # upstream's list (its "webm" lacked the dot)
SHARD_COLUMNS = ["key", "src", "error"]
VIDEOS_PER_SHARD = 200
BAD_ROWS = "bad_rows"  # the label of the shards of malformed entries
EXAMPLES = 10


def default_questions(name: str) -> str:
    return f"{MILVLG}{name}.json"


def default_answers(split_type: str) -> str:
    return f"{MILVLG}{split_type}_a.json"


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def output_name(split_type: str, n: int, seconds: float) -> str:
    """``activitynet_qa_<type>_<n>_limit_<seconds>s`` (the file stem and the dataset_info entry name)."""
    return f"activitynet_qa_{split_type}_{n}_limit_{_seconds_text(seconds)}s"


def video_stem(question: dict) -> str:
    """``v_<video_name>``; from ``question_id`` minus its last ``_N`` part when ``video_name`` is absent."""
    name = question.get("video_name")
    if name:
        return f"v_{name}"
    return "_".join(str(question["question_id"]).split("_")[:-1])


def index_videos(videos_dir: str | Path) -> dict[str, str]:
    """stem -> absolute path, one walk of the folder; mp4 before mkv before webm for equal stems."""
    root = Path(videos_dir)
    if not root.is_dir():
        raise BadInputError(f"videos_dir {str(videos_dir)!r} is not a folder")
    index: dict[str, str] = {}
    rank = {s: i for i, s in enumerate(VIDEO_SUFFIXES)}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            stem, suffix = os.path.splitext(name)
            if suffix.lower() not in rank or name.startswith("."):
                continue
            path = str(Path(dirpath, name).resolve())
            if stem not in index or rank[suffix.lower()] < rank[Path(index[stem]).suffix.lower()]:
                index[stem] = path
    return index


def _json_kind(value) -> str:
    """What a JSON value is, in words: never the value itself (it may be hostile, or huge)."""
    if value is None:
        return "missing"
    return {dict: "an object", list: "a list", bool: "true/false", str: "empty text"}.get(type(value), "a number")


def check_entry(entry, texts: tuple[str, ...]) -> str:
    """The ``question_id`` of a questions or answers entry; BadRowError unless it is an object whose
    ``question_id`` and ``texts`` are text (a list id is unhashable, a dict question would be printed)."""
    if not isinstance(entry, dict):
        raise BadRowError("not_an_object", f"a JSON entry that is {_json_kind(entry)}, not an object")
    qid = entry.get("question_id")
    if not isinstance(qid, str) or not qid:
        raise BadRowError("bad_question_id", f"question_id is {_json_kind(qid)}, not text")
    for field in texts:
        if not isinstance(entry.get(field), str):
            raise BadRowError(f"bad_{field}", f"{field} of question_id {qid[:80]!r} is "
                                              f"{_json_kind(entry.get(field))}, not text")
    if entry.get("video_name") is not None and not isinstance(entry["video_name"], str):
        raise BadRowError("bad_video_name", f"video_name of question_id {qid[:80]!r} is "
                                            f"{_json_kind(entry['video_name'])}, not text")
    return qid


def _checked(entries: list, texts: tuple[str, ...], what: str, bad: list[dict]) -> list[tuple[str, dict]]:
    """(question_id, entry) of the usable entries; a row with the error of each other one added to ``bad``."""
    usable = []
    for number, entry in enumerate(entries, 1):
        try:
            usable.append((check_entry(entry, texts), entry))
        except BadRowError as err:
            bad.append({"key": f"{what} entry {number}", "src": "", "error": f"{err.reason}: {err.detail}"})
    return usable


def join(questions: list, answers: list) -> tuple[list[dict], list[str], list[dict]]:
    """Questions in their order with their answer; the ids of questions without one (a malformed answer is
    none); and the bad rows of both files (``key``, ``error``)."""
    if not isinstance(questions, list) or not isinstance(answers, list):
        raise BadInputError("questions_json and answers_json must each hold a JSON list")
    bad: list[dict] = []
    usable = _checked(questions, ("question",), "questions_json", bad)
    by_id = dict(_checked(answers, ("answer",), "answers_json", bad))
    joined, unmatched = [], []
    for qid, q in usable:
        if qid not in by_id:
            unmatched.append(qid)
            continue
        joined.append({"question_id": qid, "question": q["question"], "answer": by_id[qid]["answer"],
                       "stem": video_stem(q)})
    return joined, unmatched, bad


def plan(storage: Storage, work_rel: str, questions_json: str, answers_json: str, videos_dir: str,
         per_shard: int = VIDEOS_PER_SHARD) -> list[ShardSpec]:
    """Join, index, and shard the distinct videos, then the bad rows; the joined questions go to
    ``<work>/questions.json``."""
    with tempfile.TemporaryDirectory(dir=storage.staging_dir()) as tmp:
        questions = remote_inputs.load_json(questions_json, Path(tmp), "questions_json")
        answers = remote_inputs.load_json(answers_json, Path(tmp), "answers_json")
    joined, unmatched, bad = join(questions, answers)
    index = index_videos(local_input(videos_dir, "videos_dir"))
    stems = list(dict.fromkeys(q["stem"] for q in joined))
    found = [s for s in stems if s in index]
    missing = [s for s in stems if s not in index]
    storage.write_text(f"{work_rel}/questions.json", json.dumps({
        "questions": joined, "unmatched": unmatched, "missing_videos": missing, "videos": len(index),
        "questions_total": len(questions)}))
    rows = ({"key": stem, "src": index[stem]} for stem in found)
    specs = write_shards(storage, work_rel, rows, per_shard, SHARD_COLUMNS, label="probe")
    # A bad row costs nothing to run: big shards, so a file of garbage cannot map past Airflow's limit.
    specs += write_shards(storage, work_rel, bad, rows_per_shard(len(bad), minimum=10_000), SHARD_COLUMNS,
                          label=BAD_ROWS, first_id=len(specs))
    if bad:
        log.warning("%s malformed entries in questions_json/answers_json are bad rows, e.g. %s", len(bad),
                    [f"{r['key']}: {r['error']}" for r in bad[:3]])
    log.info("%s questions, %s with an answer; %s videos needed, %s found in %s (%s indexed), %s missing",
             len(questions), len(joined), len(stems), len(found), videos_dir, len(index), len(missing))
    return specs


def video_duration(path: str | Path) -> tuple[float, str]:
    """(seconds, "stream" | "container"): the video stream's duration, else the container's."""
    container = open_video(path)
    try:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
            return float(stream.duration * stream.time_base), "stream"
        if container.duration is not None and container.duration > 0:
            return container.duration / 1_000_000, "container"
    finally:
        container.close()
    raise DecodeError("no_duration", f"{Path(path).name} has neither a stream nor a container duration")


def probe_item(row: dict) -> ItemResult:
    """One video's duration; where it came from (stream or container) in ``detail``. A row planned with an
    error is that bad row."""
    if row.get("error"):
        raise BadRowError.planned(row["error"])
    seconds, source = video_duration(row["src"])
    return ItemResult(row["key"], Status.OK, output=row["src"], duration=seconds, detail=source)


def probe_shard(storage: Storage, spec: ShardSpec, threads: int = 4) -> ShardStats:
    return process_shard(storage, spec, probe_item, threads=threads, log_name="ActivityNet-QA durations")


def select(questions: list[dict], durations: dict[str, float], paths: dict[str, str], n: int,
           seconds: float, reference=str) -> tuple[list[dict], dict[str, list[str]]]:
    """Rows for the first ``n`` questions whose video lasts more than ``seconds``; and the skipped question
    ids by reason. ``paths`` has every video found; ``durations`` those that could be read; ``reference``
    turns a kept video's path into the row's ``videos`` entry."""
    rows, skipped = [], {"missing_video": [], "unreadable_video": [], "too_short": []}
    for q in questions:
        if len(rows) >= n:
            break
        stem = q["stem"]
        if stem not in paths:
            skipped["missing_video"].append(q["question_id"])
        elif stem not in durations:
            skipped["unreadable_video"].append(q["question_id"])
        elif durations[stem] <= seconds:
            skipped["too_short"].append(q["question_id"])
        else:
            rows.append(llamafactory.video_row(q["question"], q["answer"], reference(paths[stem])))
    return rows, skipped


def write(storage: Storage, work_rel: str, specs: list[ShardSpec], data_dir: str, split_type: str, n: int,
          seconds: float, videos_mode: str = "absolute") -> dict:
    """The dataset file, its dataset_info.json entry and ``<work>/report.json``; returns the report."""
    if n <= 0:
        raise BadInputError(f"n must be positive, got {n}")
    if videos_mode not in llamafactory.VIDEOS_MODES:
        raise BadInputError(f"videos_mode must be one of {llamafactory.VIDEOS_MODES}, not {videos_mode!r}")
    plan_data = json.loads(storage.read_text(f"{work_rel}/questions.json"))
    durations, paths, short_videos, unreadable, sources = {}, {}, {}, {}, {"stream": 0, "container": 0}
    bad_rows: dict[str, str] = {}
    for spec in specs:
        for result in read_manifest(storage, spec.manifest_rel):
            if spec.label == BAD_ROWS:
                bad_rows[result.key] = f"{result.reason}: {result.detail}"
                continue
            paths[result.key] = result.output
            if result.status is not Status.OK:
                unreadable[result.key] = f"{result.reason}: {result.detail}"
                continue
            durations[result.key] = result.duration
            sources[result.detail] = sources.get(result.detail, 0) + 1
            if result.duration <= seconds:
                short_videos[result.key] = result.duration
    name = output_name(split_type, n, seconds)
    rows, skipped = select(plan_data["questions"], durations, paths, n, seconds,
                           lambda path: llamafactory.video_reference(path, data_dir, videos_mode, name))
    out = Path(data_dir) / f"{name}.json"
    llamafactory.write_json_atomic(out, rows)
    info = llamafactory.merge_dataset_info(data_dir, name, llamafactory.sharegpt_video_entry(out.name))
    report = {
        "output": str(out), "entry": name, "rows": len(rows), "requested": n, "seconds": seconds,
        "videos_mode": videos_mode,
        "questions": plan_data["questions_total"],
        "bad_rows": {"count": len(bad_rows), "examples": dict(list(bad_rows.items())[:EXAMPLES])},
        "unmatched_questions": {"count": len(plan_data["unmatched"]), "examples": plan_data["unmatched"][:EXAMPLES]},
        "missing_videos": {"count": len(plan_data["missing_videos"]),
                           "examples": plan_data["missing_videos"][:EXAMPLES]},
        "unreadable_videos": {"count": len(unreadable), "examples": dict(list(unreadable.items())[:EXAMPLES])},
        "too_short_videos": {"count": len(short_videos), "examples": dict(list(short_videos.items())[:EXAMPLES])},
        "skipped_questions": {reason: len(ids) for reason, ids in skipped.items()},
        "duration_from": sources, "dataset_info_entries": len(info),
    }
    storage.write_text(f"{work_rel}/report.json", json.dumps(report, indent=1))
    if len(rows) < n:
        log.warning("only %s of the %s requested rows: every matched question was used", len(rows), n)
    log.info("unmatched questions %s, missing videos %s (e.g. %s), too-short videos %s, unreadable %s, "
             "bad rows %s", report["unmatched_questions"]["count"], report["missing_videos"]["count"],
             report["missing_videos"]["examples"][:3], len(short_videos), len(unreadable), len(bad_rows))
    log.info("wrote %s rows to %s and entry %r in %s", len(rows), out, name, Path(data_dir) / llamafactory.DATASET_INFO)
    return report
