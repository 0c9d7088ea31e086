"""The Openverse-style provider ingester, done better.

A source supplies four hooks (``get_next_query_params``, ``get_response_json``, ``get_batch_data``,
``get_record_data``) plus ``get_should_continue`` and ``get_followup_rounds``. This base class owns the rest:
the paging loop of each *round* (one query paged to its end), the work queue of rounds (a round that hit the
provider's result cap can queue follow-ups), the record limit, de-duplication by item id, error collection
(skippable errors are aggregated and still fail the run) and the final commit, which always happens before an
error is raised so partial data is never lost (Openverse ``ProviderDataIngester``, openverse-flickr.md §1).
"""
from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Generic, Iterable, Protocol, TypeVar

from include.visionflow.errors import VisionflowError

log = logging.getLogger(__name__)

R = TypeVar("R")  # a record
Q = TypeVar("Q")  # a round: one query paged to its end (a time slice, for Flickr)
P = TypeVar("P")  # the query of one page of a round


class RecordSink(Protocol[R]):
    """Where records go: ``add`` buffers, ``commit`` makes them durable (called once, even on error)."""

    def add(self, record: R) -> None: ...

    def commit(self) -> None: ...


@dataclass(frozen=True)
class Dropped:
    """``get_record_data``'s answer for an item that is skipped on purpose; ``reason`` is a counter key."""

    reason: str


@dataclass
class RoundResult(Generic[Q]):
    """What one round (one query, paged to its end) saw."""

    round: Q
    pages: int = 0
    items: int = 0
    new_items: int = 0
    saturated: bool = False  # the provider's cap was reached: some results may be unreachable
    last_item: Any = None  # the last raw item this round returned for the first time (a cursor)


@dataclass
class IngestionStats:
    pages: int = 0  # responses processed (a source may serve some from a cache; it counts real requests)
    rounds: int = 0
    items: int = 0
    duplicates: int = 0
    records: int = 0
    dropped: Counter = field(default_factory=Counter)
    saturated_rounds: int = 0
    skipped_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "pages": self.pages,
            "rounds": self.rounds,
            "items": self.items,
            "duplicates": self.duplicates,
            "records": self.records,
            "dropped": dict(self.dropped),
            "saturated_rounds": self.saturated_rounds,
            "skipped_errors": list(self.skipped_errors),
        }


class IngestionError(VisionflowError):
    """A round failed; carries the round's query params (already free of secrets)."""

    def __init__(self, cause: BaseException, params: dict):
        super().__init__(f"{type(cause).__name__}: {cause} (query params: {json.dumps(params, sort_keys=True)})")
        self.params = params


class AggregateIngestionError(VisionflowError):
    """Rounds whose errors were skipped so the others could run; the run still fails."""


class LimitReached(Exception):
    """Internal: the record limit stops the whole ingestion, not just a round."""


def describe(value: Any) -> dict:
    """A round or page query as plain data for logs and errors."""
    return asdict(value) if is_dataclass(value) else dict(value)


class ProviderIngester(ABC, Generic[R, Q, P]):
    """Subclass and implement the hooks; call ``ingest(rounds)``.

    :param sink: receives records; committed once at the end (or before an error is raised)
    :param limit: stop after this many records (test runs)
    :param skip_errors: collect round errors and go on; they are raised together at the end
    """

    def __init__(self, sink: RecordSink[R], limit: int | None = None, skip_errors: bool = False):
        self.sink = sink
        self.limit = limit
        self.skip_errors = skip_errors
        self.stats = IngestionStats()
        self._seen: set[str] = set()

    # -- hooks ---------------------------------------------------------------------------------------------
    @abstractmethod
    def get_next_query_params(self, prev: P | None, round: Q) -> P:
        """The query of the next page: ``prev`` is None for the first page of a round."""

    @abstractmethod
    def get_response_json(self, params: P) -> dict:
        """One request. Raise on errors; never return None for 'no data'."""

    @abstractmethod
    def get_batch_data(self, response: dict) -> list:
        """Raw items of a response (empty list at the end of data). Raise if the response is an error."""

    @abstractmethod
    def get_record_data(self, item: Any) -> R | Dropped:
        """The record for one raw item, or ``Dropped(reason)``."""

    @abstractmethod
    def get_item_id(self, item: Any) -> str | None:
        """The provider id of a raw item, for de-duplication across pages and rounds."""

    def get_should_continue(self, response: dict, batch: list, new_in_batch: int, result: RoundResult) -> bool:
        """Whether to request the next page. Set ``result.saturated`` when stopping at a cap."""
        return True

    def get_followup_rounds(self, result: RoundResult[Q]) -> list[Q]:
        """Rounds to queue after a round (e.g. a narrower query after a saturated one)."""
        return []

    def public_params(self, round: Q) -> dict:
        """A round as data safe to log and put in errors (override to drop secrets)."""
        return describe(round)

    # -- the loop ------------------------------------------------------------------------------------------
    def ingest(self, rounds: Iterable[Q]) -> IngestionStats:
        """Run every round (and the follow-ups they queue), commit, then raise any collected errors."""
        queue = deque(rounds)
        try:
            while queue:
                round = queue.popleft()
                try:
                    result = self._run_round(round)
                except LimitReached:
                    log.info("record limit %s reached", self.limit)
                    break
                except Exception as err:  # noqa: BLE001 - wrapped with context; skipped or re-raised below
                    wrapped = IngestionError(err, self.public_params(round))
                    if not self.skip_errors:
                        raise wrapped from err
                    log.warning("skipping failed round: %s", wrapped)
                    self.stats.skipped_errors.append(str(wrapped))
                    continue
                queue.extend(self.get_followup_rounds(result))
        finally:
            # Commit before anything propagates: partial data is kept (Openverse's commit-before-raise).
            self.sink.commit()
        if self.stats.skipped_errors:
            raise AggregateIngestionError(
                f"{len(self.stats.skipped_errors)} round(s) failed: " + " | ".join(self.stats.skipped_errors)
            )
        log.info("ingestion done: %s", self.stats.to_dict())
        return self.stats

    def _run_round(self, round: Q) -> RoundResult[Q]:
        result = RoundResult(round=round)
        self.stats.rounds += 1
        params = self.get_next_query_params(None, round)
        round_seen: set[str] = set()
        while True:
            response = self.get_response_json(params)
            self.stats.pages += 1
            result.pages += 1
            batch = self.get_batch_data(response)
            if not batch:
                break
            new, last_new = self._process_batch(batch, round_seen)
            result.items += len(batch)
            result.new_items += new
            if last_new is not None:
                result.last_item = last_new
            if not self.get_should_continue(response, batch, new, result):
                break
            params = self.get_next_query_params(params, round)
        if result.saturated:
            self.stats.saturated_rounds += 1
        log.debug("round %s: %s pages, %s items, %s new", self.public_params(round), result.pages,
                  result.items, result.new_items)
        return result

    def _process_batch(self, batch: list, round_seen: set[str]) -> tuple[int, Any]:
        """Hand globally new items to the sink. Returns how many items this round had not returned before
        (a round that repeats itself has hit a cap; overlap with *other* rounds is expected) and the last
        of them, the round's cursor."""
        new_in_round, last_new = 0, None
        for item in batch:
            self.stats.items += 1
            item_id = self.get_item_id(item)
            if item_id is not None:
                if item_id in round_seen:
                    continue
                round_seen.add(item_id)
            new_in_round += 1
            last_new = item
            if item_id is not None:
                if item_id in self._seen:
                    self.stats.duplicates += 1
                    continue
                self._seen.add(item_id)
            record = self.get_record_data(item)
            if isinstance(record, Dropped):
                self.stats.dropped[record.reason] += 1
                continue
            if self.limit is not None and self.stats.records >= self.limit:
                raise LimitReached()
            self.sink.add(record)
            self.stats.records += 1
        return new_in_round, last_new
