"""The two kinds of failure.

* ``ItemError`` and its subclasses: one item failed (a dead link, a wrong checksum, an undecodable video,
  a hostile id). The shard runner turns them into manifest rows; they never fail a task.
* Everything else: ``BadInputError`` (an unusable param or input file: fails the task at once, no retry),
  ``StorageError`` and any unexpected exception (fail the task so Airflow retries it; items already written
  are kept and skipped on the retry).
"""
from __future__ import annotations

from include.visionflow.manifest import Status


class VisionflowError(Exception):
    """Base of every engine error."""


class BadInputError(VisionflowError):
    """An input (param, file, URL list) is unusable; the message names it and the fix."""


class StorageError(VisionflowError):
    """An output root cannot be read or written."""


class ShardBusyError(StorageError):
    """Another live process holds the shard's lease (``lease.py``): this one stops, and a retry comes later."""


class ItemError(VisionflowError):
    """One item failed: ``status`` and a short ``reason`` code go to its manifest row, ``detail`` is for humans."""

    status: Status = Status.FAILED_DECODE

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class FetchError(ItemError):
    """A single fetch failed (HTTP status, timeout, reset, too large)."""

    status = Status.FAILED_DOWNLOAD

    def __init__(self, reason: str, detail: str = "", status_code: int | None = None):
        super().__init__(reason, detail)
        self.status_code = status_code


class RefusedURL(FetchError):
    """The address guard refused a URL (scheme or address policy)."""

    status = Status.REFUSED

    def __init__(self, detail: str):
        super().__init__("refused_address", detail)


class DecodeError(ItemError):
    """Media bytes could not be decoded, or exceeded a safety limit."""

    status = Status.FAILED_DECODE


class ChecksumError(ItemError):
    """The bytes fetched do not match the checksum the input promised."""

    status = Status.FAILED_CHECKSUM


class BadRowError(ItemError, BadInputError):
    """A value read from input (an id, a label, a file name) cannot be used, e.g. it would name a path
    outside the output root. Inside a shard it is a counted ``bad_row``; raised for a param or a whole
    file it is a ``BadInputError`` like any other."""

    status = Status.BAD_ROW

    @classmethod
    def planned(cls, error: str) -> "BadRowError":
        """The error a plan kept in a row's ``error`` column (``"reason: detail"``), to raise when the row runs:
        a row that is bad at plan time still gets its one manifest row from the shard runner."""
        reason, _, detail = error.partition(": ")
        return cls(reason, detail)
