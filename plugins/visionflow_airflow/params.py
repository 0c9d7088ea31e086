"""Trigger-form Params whose rules Airflow checks at trigger time (form, REST API, CLI), with the rule in the
message: calendar dates (``format: date``, checked by jsonschema's format checker), ranges, URL schemes.

Ranges use ``exclusiveMinimum``/``exclusiveMaximum``: the UI's number input clamps a typed value into
``minimum``/``maximum`` without a word, while exclusive bounds reach the server, which refuses the value and
names the param. Deployment defaults: when ``VISIONFLOW_PARAM_DEFAULTS`` names a JSON file
``{dag_id: {param: value}}`` (``make demo`` writes one pointing at the offline sample source), its values
replace the defaults in the form, read once per parse.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache

from airflow.sdk import Param

DEFAULTS_ENV = "VISIONFLOW_PARAM_DEFAULTS"
# http(s) URL, or a path (no other scheme: file://, ftp:// ... are refused before the run starts)
URL_OR_PATH = r"^(https?://[^\s/]+\S*|(?![A-Za-z][A-Za-z0-9+.-]*://)\S.*)$"
# s3://bucket[/prefix] or a local path. S3 keys are literal: a '.' or '..' component would be written as is
# (s3://b/../other lands under the key "../other"), so the prefix may have none.
LOCAL_PATH = r"(?![A-Za-z][A-Za-z0-9+.-]*://)\S.*"
ROOT_PATTERN = r"^(s3://[a-z0-9][a-z0-9.-]{1,62}(?!\S*/\.\.?(/|$))(/\S*)?|" + LOCAL_PATH + ")$"
RELATIVE_NOTE = " A relative path is resolved against the worker's working directory (in the demo: .demo/)."


def optional(pattern: str) -> str:
    """``^(a|b)$`` -> ``^(a|b|)$``: the same rule, or empty."""
    return pattern[:-2] + "|)$"


@lru_cache(maxsize=4)
def _defaults_file(path: str, mtime: float) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def deployment_default(dag_id: str, name: str, default):
    path = os.environ.get(DEFAULTS_ENV)
    if not path or not os.path.isfile(path):
        return default
    return _defaults_file(path, os.path.getmtime(path)).get(dag_id, {}).get(name, default)


def integer(default, lo: int, hi: int | None = None, **kw) -> Param:
    """An integer in [lo, hi]; the range is added to the description."""
    bounds = {"exclusiveMinimum": lo - 1, **({"exclusiveMaximum": hi + 1} if hi is not None else {})}
    span = f" ({lo} to {hi})" if hi is not None else f" (at least {lo})"
    kw["description"] = kw.get("description", "").rstrip(".") + "." + span
    types = "integer" if default is not None else ["null", "integer"]
    return Param(default, type=types, **bounds, **kw)


def date(default=None, **kw) -> Param:
    """A calendar day, YYYY-MM-DD (2021-13-45 is refused), or empty."""
    return Param(default, type=["null", "string"], format="date", **kw)


def url_or_path(default: str, **kw) -> Param:
    return Param(default, type="string", minLength=1, pattern=URL_OR_PATH, **kw)


def output_root(default: str, allow_empty: bool = False, local_only: bool = False, **kw) -> Param:
    """An output folder: local or ``s3://bucket/prefix`` (``local_only``: a local folder), checked at trigger
    time so ``ftp://x`` or ``s3://b/../c`` never reaches a task."""
    kw["description"] = kw.get("description", "Local folder or s3://bucket/prefix.") + RELATIVE_NOTE
    pattern = f"^({LOCAL_PATH})$" if local_only else ROOT_PATTERN
    pattern = optional(pattern) if allow_empty else pattern
    return Param(default, type="string", pattern=pattern, **kw)


def with_deployment_defaults(dag_id: str, params: dict) -> dict:
    """``params`` with each default replaced by the deployment's (``VISIONFLOW_PARAM_DEFAULTS``), if any."""
    out = {}
    for name, param in params.items():
        value = deployment_default(dag_id, name, param.value)
        out[name] = param if value == param.value else Param(value, param.description, schema=param.schema)
    return out
