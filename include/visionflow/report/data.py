"""What a report is made of: every manifest row and every shard's stats of one run, grouped.

Manifests are read as plain Parquet rows (not ``ItemResult``), so a family's extra typed columns (frames,
duration, ...) reach the report without this module knowing them.
"""
from __future__ import annotations

import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field

from include.visionflow.storage import Storage

MANIFEST_SUFFIX = ".manifest.parquet"
STATS_SUFFIX = ".stats.json"
_FRAMES = re.compile(r"^(\d+) frames?\b")


@dataclass
class RunData:
    """Rows (one dict per item, with ``group`` and ``shard`` added) and shard stats (dicts with ``group``)."""

    rows: list[dict] = field(default_factory=list)
    shards: list[dict] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        return sorted({r["group"] for r in self.rows} | {s["group"] for s in self.shards})

    def counts(self) -> dict[str, Counter]:
        """group -> Counter(status). Taken from the rows (the truth), one Counter per group."""
        out: dict[str, Counter] = {g: Counter() for g in self.groups}
        for row in self.rows:
            out[row["group"]][row.get("status") or "?"] += 1
        return out

    def reasons(self) -> Counter:
        return Counter(f"{r['group']}: {r.get('reason') or r.get('status')}" for r in self.failed())

    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") != "ok"]

    def ok(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") == "ok"]

    def column(self, name: str, ok_only: bool = True) -> list[float]:
        rows = self.ok() if ok_only else self.rows
        return [float(r[name]) for r in rows if isinstance(r.get(name), (int, float)) and r.get(name) is not None]

    def frames(self) -> list[float]:
        """Frames per item: a ``frames`` column when the manifest has one, else ``"<n> frames"`` details."""
        values = self.column("frames")
        if values:
            return values
        return [float(m.group(1)) for r in self.ok() if (m := _FRAMES.match(str(r.get("detail") or "")))]

    def throughput(self) -> dict:
        """Items, summed shard seconds and items per shard-second (the rate one task achieved)."""
        items = sum(int(s.get("total", 0)) for s in self.shards)
        seconds = sum(float(s.get("seconds", 0.0)) for s in self.shards)
        return {"shards": len(self.shards), "items": items, "shard_seconds": round(seconds, 2),
                "items_per_second": round(items / seconds, 2) if seconds else None}


def _group_of(rel: str, base: str) -> str:
    """The folder above ``manifests/``, relative to ``base`` (``train``, ``clips``, ``val/rawframes``)."""
    inner = rel[len(base):].strip("/") if rel.startswith(base) else rel
    parts = inner.split("/")
    cut = parts.index("manifests") if "manifests" in parts else len(parts) - 1
    return "/".join(parts[:cut]) or "all"


def _shard_of(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    return name.split(".", 1)[0]


def read_rows(storage: Storage, rel: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(storage.read_bytes(rel))).to_pylist()


def collect_specs(storage: Storage, pairs: list[tuple[str, str, str]]) -> RunData:
    """From explicit ``(group, manifest_rel, stats_rel)`` triples; a missing file is left out (a shard whose
    task failed has neither)."""
    data = RunData()
    for group, manifest_rel, stats_rel in pairs:
        if manifest_rel and storage.exists(manifest_rel):
            shard = _shard_of(manifest_rel)
            data.rows += [{**row, "group": group, "shard": shard} for row in read_rows(storage, manifest_rel)]
        if stats_rel and storage.exists(stats_rel):
            stats = json.loads(storage.read_text(stats_rel))
            data.shards.append({**stats, "group": group, "shard": _shard_of(stats_rel)})
    return data


def collect_work(storage: Storage, work_rel: str) -> RunData:
    """Every manifest and stats file below ``work_rel`` (a run's work folder)."""
    base = work_rel.strip("/")
    keys = sorted(storage.list(base))
    pairs = []
    for key in keys:
        if key.endswith(MANIFEST_SUFFIX):
            stats = key[: -len(MANIFEST_SUFFIX)] + STATS_SUFFIX
            pairs.append((_group_of(key, base), key, stats))
    known = {p[2] for p in pairs}
    pairs += [(_group_of(k, base), "", k) for k in keys if k.endswith(STATS_SUFFIX) and k not in known]
    return collect_specs(storage, pairs)
