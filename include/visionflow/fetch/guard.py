"""Address policy for URLs that come from metadata.

Metadata is untrusted input: a URL list must not make a worker read its cloud metadata service or poke at
internal hosts. Only http(s) to public addresses is allowed, unless VISIONFLOW_ALLOW_PRIVATE_NETWORKS=1
(the demo and tests, whose sample source is on 127.0.0.1).

The check and the connection use the same lookup: ``public_addresses`` is what the fetcher's connections
dial (see ``fetch/pinned.py``), so a name that answers a public address to the check and a private one to
the connect (DNS rebinding) cannot slip through. Lookups are cached for ``DNS_TTL`` seconds only, and a
failed lookup refuses the URL instead of letting a second resolver decide.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

from include.visionflow import settings
from include.visionflow.errors import FetchError, RefusedURL

ALLOWED_SCHEMES = ("http", "https")
DNS_TTL = 60.0
DNS_CACHE_SIZE = 4096
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64, RFC 8215 local NAT64).
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a v6 address tunnels to: mapped, 6to4, Teredo (server and client), NAT64."""
    found = []
    if addr.ipv4_mapped:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour:
        found.append(addr.sixtofour)
    if addr.teredo:
        found.extend(addr.teredo)
    if any(addr in net for net in NAT64_PREFIXES):
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def is_public(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            return False
        embedded = _embedded_ipv4(addr)
        if embedded:
            return all(is_public(v4) for v4 in embedded)
    return addr.is_global and not (addr.is_multicast or addr.is_reserved)


class _DnsCache:
    """host -> (expiry, addresses); small, expiring, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, tuple[str, ...]]] = {}

    def lookup(self, host: str) -> tuple[str, ...]:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(host)
            if entry and entry[0] > now:
                return entry[1]
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as err:
            # Fail closed: no address we checked means no connection.
            raise FetchError("dns_error", f"cannot resolve {host[:200]}: {err}") from None
        addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
        with self._lock:
            if len(self._entries) >= DNS_CACHE_SIZE:
                self._entries = {h: e for h, e in self._entries.items() if e[0] > now}
                if len(self._entries) >= DNS_CACHE_SIZE:
                    self._entries.clear()
            self._entries[host] = (now + DNS_TTL, addresses)
        return addresses


_cache = _DnsCache()


def public_addresses(host: str) -> list[str]:
    """The addresses to connect to for ``host``: all checked, never re-resolved by someone else.

    Raises RefusedURL when any address is not public (a name mixing public and private answers is
    refused whole), FetchError("dns_error") when the name does not resolve.
    """
    host = host.strip("[]")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in _cache.lookup(host)]
    if settings.allow_private_networks():
        return [str(a) for a in addresses]
    for addr in addresses:
        if not is_public(addr):
            raise RefusedURL(
                f"{host[:200]} resolves to non-public address {addr}; set VISIONFLOW_ALLOW_PRIVATE_NETWORKS=1 "
                "only if you trust this URL list"
            )
    return [str(a) for a in addresses]


def check_url(url: str) -> None:
    """Raise RefusedURL unless ``url`` is http(s) to a public address (or private ones are allowed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as err:
        raise RefusedURL(f"unparseable URL {url[:200]!r}") from err
    if parts.scheme not in ALLOWED_SCHEMES:
        raise RefusedURL(f"scheme {parts.scheme!r} not allowed (http/https only): {url[:200]}")
    if not host:
        raise RefusedURL(f"no host in URL {url[:200]!r}")
    if settings.allow_private_networks():
        return
    public_addresses(host)
