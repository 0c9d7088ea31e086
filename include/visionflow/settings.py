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


PRODUCT = "visionflow/0.2"


def user_agent() -> str:
    """The User-Agent every fetch sends: names the tool and how to reach whoever runs it.

    ``VISIONFLOW_USER_AGENT`` replaces it whole; otherwise ``VISIONFLOW_CONTACT_URL`` (a page or mailto: URL
    of the deployment's operator) is added, so a site owner who sees our traffic can reach us.
    """
    explicit = os.environ.get("VISIONFLOW_USER_AGENT", "").strip()
    if explicit:
        return explicit
    contact = os.environ.get("VISIONFLOW_CONTACT_URL", "").strip()
    where = f"+{contact}; " if contact else ""
    return f"{PRODUCT} ({where}dataset builder; honours X-Robots-Tag noai)"


def lease_timeout() -> float:
    """Seconds without renewal after which an S3 shard lease of another host counts as dead
    (``VISIONFLOW_LEASE_TIMEOUT_S``, default 60; renewed every quarter of it). Shorter than the time Airflow
    takes to retry a lost task (heartbeat timeout plus retry delay), so the retry finds the lease free."""
    return float(os.environ.get("VISIONFLOW_LEASE_TIMEOUT_S") or 60)
