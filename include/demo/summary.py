"""Read what the demo runs wrote and format the summary table (dataset, state, items ok/failed, output).

DAGs write ``summary.json`` files (e.g. ``<output_root>/<split>/summary.json``) whose exact shape differs per
dataset family, so the reader is tolerant: in every ``summary.json`` under an output root it looks for the
first dict (breadth first, preferring a ``total``/``totals`` entry) that maps statuses to counts, and counts
``ok`` as ok and every ``failed*``/``refused*``/``error*`` status as failed.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FAILED_PREFIXES = ("failed", "refused", "error")
MAX_DEPTH = 4


@dataclass
class Row:
    dataset: str
    state: str
    ok: int | None
    failed: int | None
    output: str


def _status_counts(obj) -> dict[str, int] | None:
    """The first status->count mapping in ``obj`` (breadth first), or None."""
    queue = [obj]
    while queue:
        node = queue.pop(0)
        if isinstance(node, list):
            queue.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("ok"), int):
            return {k: v for k, v in node.items() if isinstance(v, int)}
        for key in ("total", "totals", "counts", "status_counts", "statuses", "by_status"):
            if isinstance(node.get(key), dict):
                queue.insert(0, node[key])
        queue.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return None


def _summary_files(root: Path) -> list[Path]:
    found = []
    for depth in range(MAX_DEPTH):
        pattern = "/".join(["*"] * depth + ["summary.json"])
        found.extend(sorted(root.glob(pattern)))
    return found


def read_counts(roots: list[Path]) -> tuple[int | None, int | None]:
    """Items ok / failed over every summary.json under ``roots``; (None, None) when nothing is readable."""
    ok = failed = 0
    seen = False
    for root in roots:
        for path in _summary_files(root):
            try:
                counts = _status_counts(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                log.warning("unreadable summary %s: %s", path, exc)
                continue
            if counts is None:
                log.warning("no status counts found in %s", path)
                continue
            seen = True
            ok += counts.get("ok", 0)
            failed += sum(v for k, v in counts.items() if k.lower().startswith(FAILED_PREFIXES))
    return (ok, failed) if seen else (None, None)


def format_table(rows: list[Row]) -> str:
    header = ("dataset", "run", "items ok", "failed", "output")
    cells = [header] + [(r.dataset, r.state, _num(r.ok), _num(r.failed), r.output) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)
