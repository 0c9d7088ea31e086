"""The parts of the Compose Specification that docker-compose.yaml uses, as a JSON schema written for this
project (CI has no Docker daemon and no `docker compose` CLI to run `docker compose config`). Unknown keys are
errors, so a typo in a service (``healtcheck``) or a misplaced key fails the test as compose would."""
from __future__ import annotations

_DURATION = {"type": "string", "pattern": r"^(\d+(\.\d+)?(us|ms|s|m|h))+$"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_ENV = {"oneOf": [{"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
                  _STRINGS]}

_SERVICE = {
    "type": "object",
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "image": {"type": "string"},
        "build": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {
            "context": {"type": "string"}, "dockerfile": {"type": "string"},
            "args": _ENV}, "additionalProperties": False}]},
        "command": {"oneOf": [{"type": "string"}, _STRINGS]},
        "entrypoint": {"oneOf": [{"type": "string"}, _STRINGS]},
        "environment": _ENV,
        "env_file": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"oneOf": [
            {"type": "string"}, {"type": "object", "properties": {"path": {"type": "string"},
                                                                  "required": {"type": "boolean"}},
                                 "required": ["path"], "additionalProperties": False}]}}]},
        "depends_on": {"oneOf": [_STRINGS, {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["condition"],
            "properties": {"condition": {"enum": ["service_started", "service_healthy",
                                                  "service_completed_successfully"]},
                           "restart": {"type": "boolean"}, "required": {"type": "boolean"}}}}]},
        "healthcheck": {"type": "object", "additionalProperties": False, "properties": {
            "test": {"oneOf": [{"type": "string"}, _STRINGS]}, "interval": _DURATION, "timeout": _DURATION,
            "retries": {"type": "integer", "minimum": 0}, "start_period": _DURATION,
            "start_interval": _DURATION, "disable": {"type": "boolean"}}},
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "volumes": _STRINGS,
        "ports": {"type": "array", "items": {"type": ["string", "integer"]}},
        "expose": {"type": "array", "items": {"type": ["string", "integer"]}},
        "user": {"type": "string"},
        "profiles": _STRINGS,
        "hostname": {"type": "string"},
        "working_dir": {"type": "string"},
        "labels": _ENV,
        "init": {"type": "boolean"},
    },
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
}

COMPOSE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "required": ["services"],
    "properties": {
        "name": {"type": "string"},
        "services": {"type": "object", "minProperties": 1,
                     "additionalProperties": _SERVICE},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "networks": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
    },
}
