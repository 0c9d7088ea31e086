"""Settings read from the environment: the only engine knobs that are not arguments."""
from __future__ import annotations

import os

TRUTHY = {"1", "true", "yes", "on"}


def allow_private_networks() -> bool:
    """URLs from metadata may reach loopback/private hosts only when this is set (demo, tests)."""
    return os.environ.get("VISIONFLOW_ALLOW_PRIVATE_NETWORKS", "").strip().lower() in TRUTHY


def default_threads() -> int:
    """Download threads per shard; I/O bound, so several per core."""
    return int(os.environ.get("VISIONFLOW_THREADS", "16"))
