"""Read what the demo runs wrote and format the summary table (dataset, run state, items ok/failed, output).

Each DAG family writes its counts in its own place and shape; ``include/demo/confs.py`` says where (a glob and
a path inside the JSON, ``Counts``). The reader is tolerant: a missing or unreadable file shows ``-`` rather
than failing the demo. ``ok`` counts as ok; every ``failed*``/``refused*``/``error*`` status as failed.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from include.demo.confs import Counts

log = logging.getLogger(__name__)

FAILED_PREFIXES = ("failed", "refused", "error")


@dataclass
class Row:
    dataset: str
    state: str
    ok: int | None
    failed: int | None
    output: str


def _at(node, path: list[str]) -> list:
    """The values at a dot path; ``*`` fans out over every value of a dict."""
    if not path:
        return [node]
    if not isinstance(node, dict):
        return []
    head, rest = path[0], path[1:]
    children = list(node.values()) if head == "*" else [node[head]] if head in node else []
    return [found for child in children for found in _at(child, rest)]


def safe_run(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def read_counts(data: Path, where: Counts, run_id: str) -> tuple[int | None, int | None]:
    """Items ok / failed summed over the files and paths ``where`` names; (None, None) if nothing readable."""
    ok = failed = 0
    seen = False
    for path in sorted(data.glob(where.glob.format(run=safe_run(run_id)))):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("unreadable counts in %s: %s", path, exc)
            continue
        for node in _at(doc, [p for p in where.path.split(".") if p]):
            counts = node.get("counts", node) if isinstance(node, dict) else None
            if not isinstance(counts, dict) or not isinstance(counts.get(where.ok), int):
                continue
            seen = True
            ok += counts[where.ok]
            failed += _failed(counts, where.failed)
    return (ok, failed) if seen else (None, None)


def _failed(counts: dict, key: str | None) -> int:
    if key is None:
        return sum(v for k, v in counts.items() if isinstance(v, int) and k.startswith(FAILED_PREFIXES))
    value = counts.get(key, 0)
    return sum(v for v in value.values() if isinstance(v, int)) if isinstance(value, dict) else int(value)


def format_table(rows: list[Row]) -> str:
    header = ("dataset", "run", "items ok", "failed", "output")
    cells = [header] + [(r.dataset, r.state, _num(r.ok), _num(r.failed), r.output) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(value: int | None) -> str:
    return "-" if value is None else str(value)
