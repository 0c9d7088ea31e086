"""Time-delineated ingestion for APIs that cap how many results one query can reach (Flickr: 4,000).

Two ways to cut a day into queries that each stay under the cap, sharing one saturation rule:

* ``plan_slices`` (strategy ``plan``): Openverse's idea, from count probes. Probe the interval; if it
  reports more than ``max_records``, cut it into equal time parts sized from the count, probe those
  (optionally merging neighbours that fit together), recurse into parts still over the limit, and below
  ``min_span`` seconds split by licence instead. A probe costs one request whatever its ``per_page``, so the
  Flickr ingester probes with a full first page and reuses it when the slice is crawled as planned. Reported
  totals can be *lower* than the truth, so a planned slice may still saturate.
* the cursor walk (strategy ``walk``, the default): query the whole interval sorted by upload time,
  ascending; when a query reaches the cap, everything older than the last upload time seen is complete, so
  the next query starts at that time. No probes at all, and only photos sharing the cut second are fetched
  twice, which makes it close to the minimum number of requests.

Either way a saturated slice (cap reached, or a page of nothing but already-seen ids, which is how a capped
API repeats itself) is continued by ``split_saturated``: by time from the cursor, and when the cursor cannot
move (one second holds more than a page can pass) by licence. Records are de-duplicated by id in the ingester,
so overlapping queries cost requests but never duplicate rows. A single second and licence over the cap is
the one case no query can reach; it is counted in ``TimeDelineatedIngester.capped``.
"""
from __future__ import annotations

import logging
import math
from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Callable, TypeVar

from include.visionflow.sources.base import ProviderIngester, RoundResult

log = logging.getLogger(__name__)

R = TypeVar("R")
P = TypeVar("P")


@dataclass(frozen=True)
class Slice:
    """An upload-time interval, both ends inclusive (epoch seconds), restricted to some licences."""

    start: int
    end: int
    licenses: tuple[int, ...]
    reported: int | None = None  # the count probe's answer, when planned from one

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError(f"slice end {self.end} before start {self.start}")

    @property
    def span(self) -> int:
        return self.end - self.start + 1



@dataclass(frozen=True)
class PlanConfig:
    """``max_records``: a slice reporting more is split; ``fill``: aim parts at this share of it."""

    max_records: int = 3500
    fill: float = 0.8
    max_divisions: int = 24
    min_span: int = 60  # seconds; below this, split by licence (tiny time slices are fickle on Flickr)
    # Join neighbours that fit together: fewer queries, but a probe's first page can then not be reused.
    merge: bool = False

    def __post_init__(self):
        if self.max_records < 1 or not 0 < self.fill <= 1 or self.max_divisions < 2 or self.min_span < 1:
            raise ValueError(f"invalid plan config {self}")


@dataclass
class Plan:
    slices: list[Slice]
    probes: int


CountFn = Callable[[Slice], int]


def split_time(sl: Slice, parts: int) -> list[Slice]:
    """``parts`` contiguous slices covering ``sl`` exactly (whole seconds, as even as possible)."""
    parts = max(1, min(parts, sl.span))
    bounds = [sl.start + (sl.span * i) // parts for i in range(parts + 1)]
    return [Slice(bounds[i], bounds[i + 1] - 1, sl.licenses) for i in range(parts)]


def _merge_neighbours(parts: list[Slice], max_records: int) -> list[Slice]:
    """Greedily join adjacent probed parts whose counts fit together (fewer, fuller queries)."""
    merged: list[Slice] = []
    for part in parts:
        if part.reported == 0:
            continue
        prev = merged[-1] if merged else None
        if (prev is not None and prev.end + 1 == part.start and prev.reported is not None
                and part.reported is not None and prev.reported + part.reported <= max_records):
            merged[-1] = Slice(prev.start, part.end, prev.licenses, prev.reported + part.reported)
        else:
            merged.append(part)
    return merged


def _split_licenses(sl: Slice, count: CountFn, plan: Plan, cfg: PlanConfig) -> list[Slice]:
    """Probe each licence alone and pack them into groups that fit; a licence alone over the cap stays."""
    groups: list[Slice] = []
    current: list[int] = []
    current_count = 0
    for lic in sl.licenses:
        n = count(Slice(sl.start, sl.end, (lic,)))
        plan.probes += 1
        if n == 0:
            continue
        if current and current_count + n > cfg.max_records:
            groups.append(Slice(sl.start, sl.end, tuple(current), current_count))
            current, current_count = [], 0
        current.append(lic)
        current_count += n
    if current:
        groups.append(Slice(sl.start, sl.end, tuple(current), current_count))
    return groups


def _plan(sl: Slice, count: CountFn, plan: Plan, cfg: PlanConfig) -> list[Slice]:
    """``sl`` has a probed count over the limit: split it (recursively) into slices under it."""
    assert sl.reported is not None
    if sl.span <= cfg.min_span:
        return _split_licenses(sl, count, plan, cfg) if len(sl.licenses) > 1 else [sl]
    n_parts = min(cfg.max_divisions, max(2, math.ceil(sl.reported / (cfg.max_records * cfg.fill))))
    if sl.span // n_parts < cfg.min_span:
        n_parts = max(2, sl.span // cfg.min_span)
    parts = []
    for part in split_time(sl, n_parts):
        parts.append(replace(part, reported=count(part)))
        plan.probes += 1
    out: list[Slice] = []
    for part in _merge_neighbours(parts, cfg.max_records) if cfg.merge else [p for p in parts if p.reported]:
        out.extend(_plan(part, count, plan, cfg) if part.reported > cfg.max_records else [part])
    return out


def plan_slices(start: int, end: int, licenses: tuple[int, ...], count: CountFn,
                cfg: PlanConfig | None = None) -> Plan:
    """Slices covering ``[start, end]`` whose probed counts are at most ``cfg.max_records`` where possible."""
    cfg = cfg or PlanConfig()
    plan = Plan(slices=[], probes=1)
    whole = Slice(start, end, licenses)
    total = count(whole)
    whole = replace(whole, reported=total)
    if total == 0:
        return plan
    plan.slices = [whole] if total <= cfg.max_records else _plan(whole, count, plan, cfg)
    log.info("planned %s slice(s) for %s..%s from %s probe(s), total reported %s",
             len(plan.slices), start, end, plan.probes, total)
    return plan


def split_saturated(sl: Slice, cursor: int) -> tuple[list[Slice], bool]:
    """Follow-ups for a saturated slice whose newest complete upload time is ``cursor``.

    Returns ``(slices, capped)``; ``capped`` is True when nothing narrower exists (one second, one licence).
    Results older than ``cursor`` are complete (the query was sorted by upload time, ascending).
    """
    if cursor > sl.start:
        return [Slice(cursor, sl.end, sl.licenses)], False
    # The cursor cannot move: the first second alone fills the cap. Split that second by licence.
    rest = [Slice(sl.start + 1, sl.end, sl.licenses)] if sl.end > sl.start else []
    if len(sl.licenses) == 1:
        return rest, True
    return [Slice(sl.start, sl.start, (lic,)) for lic in sl.licenses] + rest, False


class TimeDelineatedIngester(ProviderIngester[R, Slice, P]):
    """Rounds are time slices; saturated rounds continue through ``split_saturated``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.capped: list[Slice] = []

    @abstractmethod
    def get_item_time(self, item: Any) -> int:
        """The item's upload time (epoch seconds), the cursor for follow-up slices."""

    @abstractmethod
    def get_record_count(self, sl: Slice) -> int:
        """One cheap count probe for a slice."""

    def plan(self, start: int, end: int, licenses: tuple[int, ...], cfg: PlanConfig | None = None) -> Plan:
        return plan_slices(start, end, licenses, self.get_record_count, cfg)

    def get_followup_rounds(self, result: RoundResult[Slice]) -> list[Slice]:
        if not result.saturated:
            return []
        sl = result.round
        cursor = self.get_item_time(result.last_item) if result.last_item is not None else sl.start
        followups, capped = split_saturated(sl, max(cursor, sl.start))
        if capped:
            self.capped.append(Slice(sl.start, sl.start, sl.licenses))
            log.error("one second (%s) with licence %s holds more results than the API can return; "
                      "some are unreachable", sl.start, sl.licenses)
        log.info("slice %s..%s saturated; continuing with %s", sl.start, sl.end,
                 [(f.start, f.end, f.licenses) for f in followups])
        return followups
