"""Secrets masked in every log record of the process, whatever logger wrote it and whatever handles it.

Library loggers print secrets at DEBUG: urllib3's retry logger the full URL with ``api_key=...``, oauthlib
the signed header with ``oauth_signature="..."``, botocore the ``Signature=`` of a request. Filters on
named loggers miss records of their child loggers and of loggers nobody listed, and Airflow's own masker
only knows the secrets it was told about. So ``install()`` wraps the log record factory: every record is
masked when it is created, before any filter, handler or formatter (including Airflow's) sees it. Values
of secret-looking parameters are masked by name (quoted or not), and registered secret values wherever
they appear.
"""
from __future__ import annotations

import logging
import re
import threading

SECRET_NAMES = (
    "api_key", "api_sig", "api_secret", "secret", "client_secret", "password", "passwd", "token",
    "access_token", "refresh_token", "oauth_signature", "oauth_token", "oauth_token_secret",
    "oauth_consumer_key", "access_key", "secret_key", "aws_secret_access_key", "aws_session_token",
    "client_key", "resource_owner_key", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "credential",
)
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter registered values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False
# name=value, name="value", name: value, 'name': 'value' (a dict's repr), name%3Dvalue (an OAuth base
# string), ('name', 'value') (a list of pairs), in URLs, headers and reprs.
_PATTERN = re.compile(
    r"(?i)(?<![A-Za-z])(" + "|".join(re.escape(n) for n in sorted(SECRET_NAMES, key=len, reverse=True))
    + r")(['\"]?\s*(?:[=:]|%3D|(?<=['\"])\s*,)\s*)(['\"]?)((?:(?!%26)[^&\s'\",;})>])+)"
)


def mask(text: str) -> str:
    if not text:
        return text
    text = _PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def register_secrets(*values: str | None) -> None:
    """Values (keys, passwords) to mask wherever they appear in a log record."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def _mask_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's problem to report, not ours
        return record
    masked = mask(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text when set: the traceback (whose message may hold a URL) is masked too.
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
    return record


def install() -> None:
    """Mask every record created from now on in this process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            return _mask_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
