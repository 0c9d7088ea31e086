"""Where a family's report goes, and the samples every family draws the same way.

:func:`publish` writes ``reports/<family>/<run>/report.html`` (the run's report: what the run note links to),
a copy as the latest at the root, the dataset card, and leaves no ``.tmp/`` in the roots the run wrote. The
latest copy is ``report.html`` where one DAG owns the root, ``report-<dag id>.html`` where several DAGs (or
datasets) share it, so they never overwrite each other's.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from include.visionflow.report.card import write_card
from include.visionflow.report.data import RunData
from include.visionflow.report.html import write_report
from include.visionflow.report.sheets import Sheet
from include.visionflow.storage import TMP_DIR, Storage, tidy_staging_root

THUMBNAILS = 24
STRIPS = 4
FRAMES_PER_STRIP = 8
LATEST = "report.html"
TOP_CLASSES = 25


def safe_run(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def run_report_rel(family: str, run_id: str) -> str:
    return f"reports/{family}/{safe_run(run_id)}/report.html"


def publish(storage: Storage, title: str, run_id: str, family: str, card=None, latest: str = LATEST,
            card_rel: str = "README.md", also_wrote: tuple[Storage, ...] = (), **report) -> str:
    """Write the run's report, the latest copy at ``latest`` and (if given) the card; return the run's report
    URI. ``card_rel`` names the card where ``README.md`` belongs to someone else. ``also_wrote``: the run's
    other output roots (frames, images), tidied like ``storage``. ``report`` is passed on to
    :func:`write_report`. The family is in the path because DAGs sharing an output root (the Flickr ones)
    may share a run id too."""
    rel = run_report_rel(family, run_id)
    uri = write_report(storage, title, out_rel=rel, **report)
    storage.write_bytes(latest, storage.read_bytes(rel))
    if card is not None:
        write_card(storage, card, card_rel)
    for root in (storage, *also_wrote):
        tidy_staging(root)
    return uri


def tidy_staging(storage: Storage, settle: float = 10.0) -> None:
    """The run's last step leaves no ``.tmp/`` behind in a root it wrote: what killed processes left, our
    empty folder and then ``.tmp`` itself go (``storage.tidy_staging_root``). A task still running keeps
    its folder and removes it, with ``.tmp`` if that is then empty, when it ends."""
    if storage.is_local:
        tidy_staging_root(Path(storage.uri(TMP_DIR)), settle)


def read_json(storage: Storage, rel: str) -> dict:
    return json.loads(storage.read_text(rel)) if storage.exists(rel) else {}


def spread(items: list, n: int) -> list:
    """At most ``n`` items evenly spaced over ``items`` (first included)."""
    return items[:: max(1, len(items) // n)][:n] if n > 0 else []


def top(counts: dict, n: int = TOP_CLASSES) -> str:
    """How much of ``counts`` a top-``n`` bar chart shows, for its title."""
    return f"{len(counts)} classes" + (f", top {n}" if len(counts) > n else "")


def thumbnails(storage: Storage, run: RunData, title: str, group: str | None = None) -> Sheet:
    rows = [r for r in run.ok() if r.get("output") and (group is None or r["group"] == group)]
    return Sheet(title, [[r["output"]] for r in spread(rows, THUMBNAILS)], storage=storage)


def frame_strips(storage: Storage, folders: list[str], title: str) -> Sheet:
    """A strip of evenly spaced frames from each of the first ``STRIPS`` folders."""
    rows, captions = [], []
    for folder in folders[:STRIPS]:
        frames = sorted(k for k in storage.list(folder) if k.endswith((".jpg", ".jpeg", ".png")))
        if frames:
            rows.append(spread(frames, FRAMES_PER_STRIP))
            captions.append(f"{folder} ({len(frames)} frames)")
    return Sheet(title, rows, storage=storage, captions=captions, cell=96)
