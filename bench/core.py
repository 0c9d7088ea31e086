"""What every case returns: repeated measurements of each side, medians, ratios and the goal verdict."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable

from bench.measure import Measurement


@dataclass
class Side:
    """Repetitions of one side of a case (ours or theirs)."""

    label: str
    runs: list[Measurement] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # items produced per run (successes, frames, rows)
    extra: dict[str, str] = field(default_factory=dict)

    def add(self, m: Measurement, count: int | None = None) -> None:
        self.runs.append(m)
        if count is not None:
            self.counts.append(count)

    @property
    def wall(self) -> float | None:
        return statistics.median(m.wall for m in self.runs) if self.runs else None

    @property
    def peak_mb(self) -> float | None:
        return statistics.median(m.peak_tree_mb for m in self.runs) if self.runs else None

    @property
    def anon_mb(self) -> float | None:
        return statistics.median(m.peak_anon_mb for m in self.runs) if self.runs else None

    @property
    def cpu(self) -> float | None:
        return statistics.median(m.cpu for m in self.runs) if self.runs else None

    @property
    def load(self) -> float | None:
        return max(m.load for m in self.runs) if self.runs else None

    @property
    def count(self) -> int | None:
        return statistics.median_low(self.counts) if self.counts else None


@dataclass
class CaseResult:
    number: int
    title: str
    goal: str
    ours: Side | None = None
    theirs: Side | None = None
    unit: str = ""  # what ``count`` counts, for a rate column ("images" -> images/s)
    status: str = "ok"  # ok | not available yet | error | skipped
    met: bool | None = None
    verdict: str = ""  # the number the goal is judged on, e.g. "2.31x faster"
    notes: list[str] = field(default_factory=list)

    @property
    def wall_ratio(self) -> float | None:
        return ratio(self.ours.wall if self.ours else None, self.theirs.wall if self.theirs else None)

    @property
    def cpu_ratio(self) -> float | None:
        return ratio(self.ours.cpu if self.ours else None, self.theirs.cpu if self.theirs else None)

    @property
    def mem_ratio(self) -> float | None:
        return ratio(self.ours.peak_mb if self.ours else None, self.theirs.peak_mb if self.theirs else None)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """ours / theirs, or None when either side is missing or theirs is zero."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


@dataclass(frozen=True)
class Case:
    number: int
    title: str
    run: Callable[["Context"], CaseResult]


@dataclass
class Context:
    reps: int
    quick: bool = False  # smaller inputs, for trying the harness out

    def reps_for(self, heavy: bool = False) -> int:
        """Cases that take minutes per run (5, 7, 8) get a third of the repetitions, at least one, so
        ``make bench`` stays within ~25 minutes on 2 cores."""
        return max(1, self.reps // 3) if heavy else self.reps


def unavailable(number: int, title: str, goal: str, why: str) -> CaseResult:
    return CaseResult(number, title, goal, status="not available yet", notes=[why])


def failed(number: int, title: str, goal: str, why: str) -> CaseResult:
    return CaseResult(number, title, goal, status="error", notes=[why])
