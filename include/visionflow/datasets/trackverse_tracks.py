"""TrackVerse steps 5-7 (formats.md 2.2-2.4): object tracks, track clips and curated subsets.

The DAG runs :data:`STAGES` (:func:`track_item`, then :func:`clips_item`) over shards of video rows (each row
has at least ``yid``) through the shard runner with :func:`run_stage`, then calls :func:`curate` once. Layout
under the output root:

* ``videos_segm/<yid[:2]>/<yid>.txt``: ``start,end`` scene segments (written by the scene step);
* ``tracks_meta/<domain>/<yid[:2]>/<yid>-meta.jsonl.gzip`` + ``-progress.txt``: one JSON line per track;
* ``tracks_mp4/<domain>/<yid[:2]>/<yid>-<label>-<tid>.mp4``: one clip per kept track;
* ``tracks_subsets/<domain>/<name>.jsonl.gzip``: curated subsets, in ``record_format``'s fields
  (:mod:`include.visionflow.tracking.records`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from include.visionflow.errors import BadInputError
from include.visionflow.manifest import ItemResult
from include.visionflow.storage import Storage
from include.visionflow.tracking.records import DEFAULT_FORMAT, RECORD_FORMATS

STAGES = ("tracks", "clips")  # steps 5 and 6, one after another per shard


@dataclass(frozen=True)
class TrackConfig:
    """Everything steps 5-7 need; built by the operator from DAG params."""

    domain: str = "faces"
    fps: float = 16.0
    min_track_len: float = 3.0  # seconds
    min_track_area: float = 0.1  # mean box area / frame area
    blur_faces: bool = True
    # Where <yid[:2]>/<yid>.mp4 is read: detection always sees the original frames (a face detector cannot
    # find blurred faces, and other classes lose detail); clips are cut from ``video_dir`` ("videos_blurred"
    # when the blur step ran) and, with blur_faces, blurred again on the crop, where faces are larger.
    detect_dir: str = "videos_mp4"
    video_dir: str = "videos_mp4"
    detector: str = "centerface"  # "centerface" | "onnx:<path>" | "torchvision:<path>"
    detector_settings: dict = field(default_factory=dict)  # score_threshold, device, labels, ...
    max_clip_seconds: float = 180.0
    curation: str = "random"  # "random" | "class_balanced" | "video_balanced"
    curation_sizes: tuple[int, ...] = (100,)  # random: N per subset; class_balanced: N per class
    per_video: int = 3  # video_balanced: at most this many tracks per video
    # Videos left out of every subset (upstream's verified validation set): ids, or local files of one id per
    # line (the first 11 characters, like upstream's trackverse-verified-6perclass.txt).
    validation_yids: tuple[str, ...] = ()
    seed: int = 0
    # Field set of the subsets (tracking.records): "release" (TrackVerse's 2025 release, which its current
    # loader reads) or "2024" (the v1 pipeline's fn/track_bbox records).
    record_format: str = DEFAULT_FORMAT

    def __post_init__(self) -> None:
        from include.visionflow.paths import safe_component

        # Templated DAG settings arrive as text ("{'score_threshold': 0.3}", "[100, 500]"), or as the value
        # native rendering makes of that text: "2024" becomes the number 2024.
        object.__setattr__(self, "record_format", str(self.record_format))
        if isinstance(self.validation_yids, str) and not self.validation_yids.strip().startswith(("[", "(")):
            object.__setattr__(self, "validation_yids", tuple(self.validation_yids.replace(",", " ").split()))
        for name, kind in (("detector_settings", dict), ("curation_sizes", tuple), ("validation_yids", tuple)):
            value = _literal(getattr(self, name), name)
            object.__setattr__(self, name, kind(value) if value is not None else kind())
        problems = []
        if not self.fps > 0:
            problems.append(f"fps {self.fps} must be positive (upstream samples 16)")
        if self.min_track_len < 0:
            problems.append(f"min_track_len {self.min_track_len} must be >= 0 seconds (upstream: 3)")
        if not 0 <= self.min_track_area < 1:
            problems.append(f"min_track_area {self.min_track_area} must be a frame fraction in [0, 1) (upstream: 0.1)")
        if self.max_clip_seconds <= 0:
            problems.append(f"max_clip_seconds {self.max_clip_seconds} must be positive (upstream: 180)")
        if self.record_format not in RECORD_FORMATS:
            problems.append(f"record_format {self.record_format!r} must be one of {', '.join(RECORD_FORMATS)}")
        try:
            for what in ("domain", "detect_dir", "video_dir"):
                safe_component(getattr(self, what), what=what)
        except BadInputError as err:
            problems.append(str(err))
        if problems:
            raise BadInputError("track settings: " + "; ".join(problems))


def _literal(value, name: str):
    if not isinstance(value, str):
        return value
    import ast

    try:
        return ast.literal_eval(value.strip()) if value.strip() else None
    except (ValueError, SyntaxError) as err:
        raise BadInputError(f"track setting {name}={value[:80]!r} is not a literal list or mapping") from err


def track_item(row: dict, storage: Storage, cfg: TrackConfig) -> ItemResult:
    """Detect and track objects in every scene segment of one video; resumable per segment."""
    from include.visionflow.tracking.meta import track_video

    return track_video(row, storage, cfg)


def clips_item(row: dict, storage: Storage, cfg: TrackConfig) -> ItemResult:
    """Write one clip per kept track of one video (faces blurred when ``cfg.blur_faces``)."""
    from include.visionflow.tracking.clips import clip_video

    return clip_video(row, storage, cfg)


def run_stage(storage: Storage, spec, stage: str, cfg: TrackConfig):
    """One of :data:`STAGES` over one shard (skipped when that stage's stats exist); its ``ShardStats``."""
    from include.visionflow.shards import process_shard

    items = {"tracks": track_item, "clips": clips_item}
    if stage not in items:
        raise BadInputError(f"stage {stage!r} is not one of {STAGES}")
    item = items[stage]
    return process_shard(storage, spec, lambda row: item(row, storage, cfg), stage=stage, log_name="trackverse")


def curate(storage: Storage, cfg: TrackConfig) -> dict:
    """Write the curated subsets; returns {subset name: {"path": ..., "tracks": n}}."""
    from include.visionflow.datasets.trackverse_curate import curate_subsets

    return curate_subsets(storage, cfg)
