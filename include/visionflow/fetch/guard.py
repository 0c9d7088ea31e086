"""Address policy for URLs that come from metadata.

Metadata is untrusted input: a URL list must not make a worker read its cloud metadata service or poke at
internal hosts. Only http(s) to public addresses is allowed, unless VISIONFLOW_ALLOW_PRIVATE_NETWORKS=1
(the demo and tests, whose sample source is on 127.0.0.1).
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

from include.visionflow import settings
from include.visionflow.errors import RefusedURL

ALLOWED_SCHEMES = ("http", "https")


def _is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_global and not (addr.is_multicast or addr.is_reserved)


@functools.lru_cache(maxsize=4096)
def _resolve(host: str) -> tuple[str, ...]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return tuple(sorted({info[4][0] for info in infos}))


def check_url(url: str) -> None:
    """Raise RefusedURL unless ``url`` is http(s) to a public address (or private ones are allowed)."""
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise RefusedURL(f"unparseable URL {url[:200]!r}") from err
    if parts.scheme not in ALLOWED_SCHEMES:
        raise RefusedURL(f"scheme {parts.scheme!r} not allowed (http/https only): {url[:200]}")
    host = parts.hostname
    if not host:
        raise RefusedURL(f"no host in URL {url[:200]!r}")
    if settings.allow_private_networks():
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in _resolve(host)]
        except OSError as err:
            # Not a policy refusal: the fetch itself will report the DNS failure as a download failure.
            return
    for addr in addresses:
        if not _is_public(addr):
            raise RefusedURL(
                f"{host} resolves to non-public address {addr}; set VISIONFLOW_ALLOW_PRIVATE_NETWORKS=1 "
                "only if you trust this URL list"
            )
