"""One track record, written in either field set TrackVerse has used (formats.md 2.2 and 2.4).

The per-video ``tracks_meta`` files keep the layout of the v1 pipeline's ``parse_tracks.py`` (``tid``, ``fn``,
``track_ts``, ``track_bbox``, ``top10_*``), with the detector's class *names* in ``top10_lbl``: the clip,
curation and report steps read them so. The subsets are what training code reads, and are written in the
run's ``record_format``:

* ``release`` (the default): the fields of the 2025 release on Hugging Face, which MMPLab/TrackVerse ``main``'s
  ``download_tracks.py`` reads (``m['track_mp4_filename']`` under ``tracks_mp4/``, ``m['frame_bboxes']``):
  ``track_id``, ``track_ts`` (``[start, end]``), ``frame_ts``, ``frame_bboxes``, ``yid``, ``track_mp4_filename``
  (``<domain>/<yid[:2]>/<yid>-<label>-<tid>.mp4``), ``top10_label_ids`` (indices into the detector's class
  list) and ``top10_label_names`` (those classes' names). That loader raises ``KeyError`` on the v1 fields.
* ``2024``: the v1 pipeline's fields as its loaders read them (``fn`` under ``tracks_mp4/<domain>/``,
  per-frame ``track_ts`` and ``track_bbox``), with ``top10_lbl`` holding class indices as upstream's does
  and ``top10_desc`` the cleaned names (upstream's names field).

Both are rendered from one :class:`TrackRecord`, so the two field sets cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

from include.visionflow.errors import BadInputError

RECORD_FORMATS = ("release", "2024")
DEFAULT_FORMAT = "release"


def check_format(record_format: str) -> str:
    if record_format not in RECORD_FORMATS:
        raise BadInputError(f"record_format {record_format!r}: use {' or '.join(RECORD_FORMATS)} (release: "
                            "TrackVerse's 2025 release fields; 2024: the v1 pipeline's fn/track_bbox fields)")
    return record_format


def class_index(classes: list[str]) -> dict[str, int]:
    """Class name -> its index in the detector's list. A name listed twice (torchvision's COCO list repeats
    ``N/A``) maps to its first place: a record names its classes, not their slots."""
    index: dict[str, int] = {}
    for i, name in enumerate(classes):
        index.setdefault(name, i)
    return index


@dataclass(frozen=True)
class TrackRecord:
    """A kept track and its class evidence; ``fn`` is relative to ``tracks_mp4/<domain>/``."""

    yid: str
    tid: str
    fn: str
    video_size: list[int]  # [H, W]
    segment: list[float]
    ts: list[float]  # seconds, one per sampled frame
    boxes: list[list[float]]  # x, y, w, h pixels, one per frame
    label_ids: list[int]  # indices into the detector's classes, best first
    label_names: list[str]  # the detector's names of those classes
    descs: list[str]  # the names cleaned as upstream's ``top10_desc``
    logit_mu: list[float]
    logit_std: list[float]
    wlogit_mu: list[float]
    wlogit_std: list[float]

    def meta(self) -> dict:
        """The ``tracks_meta`` line (key order is the file's bytes: kept as the tracker has always written it)."""
        return {
            "yid": self.yid, "tid": self.tid, "fn": self.fn, "video_size": self.video_size,
            "segment": self.segment, "track_ts": self.ts, "track_bbox": self.boxes,
            "top10_lbl": self.label_names, **self._scores(),
        }

    def render(self, record_format: str, domain: str) -> dict:
        """The subset line in ``record_format`` (see the module doc)."""
        if check_format(record_format) == "2024":
            return {**self.meta(), "top10_lbl": self.label_ids}
        return {
            "track_id": self.tid, "track_ts": [self.ts[0], self.ts[-1]], "frame_ts": self.ts,
            "frame_bboxes": self.boxes, "yid": self.yid, "track_mp4_filename": f"{domain}/{self.fn}",
            "top10_label_ids": self.label_ids, "top10_label_names": self.label_names,
        }

    def _scores(self) -> dict:
        return {"top10_desc": self.descs, "top10_logit_mu": self.logit_mu, "top10_logit_std": self.logit_std,
                "top10_wlogit_mu": self.wlogit_mu, "top10_wlogit_std": self.wlogit_std}

    @classmethod
    def from_meta(cls, record: dict, classes: dict[str, int]) -> "TrackRecord":
        """A ``tracks_meta`` line back as a record; ``classes`` from :func:`class_index` of the run's detector."""
        names = [str(n) for n in record["top10_lbl"]]
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise BadInputError(f"track {record.get('tid')} of {record.get('yid')} has classes {unknown} that the "
                                "run's detector does not list: were its tracks made with another detector? "
                                "Run with that detector, or remove tracks_meta/ to track again")
        return cls(
            yid=record["yid"], tid=record["tid"], fn=record["fn"], video_size=record["video_size"],
            segment=record.get("segment", []), ts=record["track_ts"], boxes=record["track_bbox"],
            label_ids=[classes[n] for n in names], label_names=names, descs=record["top10_desc"],
            logit_mu=record["top10_logit_mu"], logit_std=record["top10_logit_std"],
            wlogit_mu=record["top10_wlogit_mu"], wlogit_std=record["top10_wlogit_std"],
        )
