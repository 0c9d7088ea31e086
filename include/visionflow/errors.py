"""Batch-level failures. Item failures are values (manifest rows), never these."""
from __future__ import annotations


class VisionflowError(Exception):
    """Base of every engine error."""


class BadInputError(VisionflowError):
    """An input (param, file, URL list) is unusable; the message names it and the fix."""


class StorageError(VisionflowError):
    """An output root cannot be read or written."""


class FetchError(VisionflowError):
    """A single fetch failed; carries a reason code for the manifest."""

    def __init__(self, reason: str, detail: str = "", status_code: int | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status_code = status_code


class RefusedURL(FetchError):
    """The address guard refused a URL (scheme or address policy)."""

    def __init__(self, detail: str):
        super().__init__("refused_address", detail)


class DecodeError(VisionflowError):
    """Media bytes could not be decoded, or exceeded a safety limit."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
