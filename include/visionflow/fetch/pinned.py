"""urllib3 connections that dial only addresses the guard checked, and report to the fetch deadline.

urllib3 resolves a host itself when it connects; a second lookup after the guard's check would let a
rebinding name point the connection elsewhere. These connections ask ``guard.public_addresses`` (the
same cached, checked lookup) and dial those addresses directly, while TLS still verifies the certificate
and sends SNI for the host name. Connections to a configured proxy are not pinned: the proxy resolves.
"""
from __future__ import annotations

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from include.visionflow.fetch import deadline
from include.visionflow.fetch.guard import public_addresses


class _PinnedMixin:
    def _new_conn(self):  # type: ignore[override]
        current = deadline.current()
        if current is not None:
            current.check()
        if self.proxy is not None or self._tunnel_host is not None:  # type: ignore[attr-defined]
            return super()._new_conn()  # type: ignore[misc]
        hostname = self._dns_host  # type: ignore[has-type]
        last: Exception | None = None
        for address in public_addresses(hostname):
            # urllib3 dials _dns_host; self.host (SNI, certificate check, Host header) reads it too, so
            # it is swapped for the dial only.
            self._dns_host = address
            try:
                return super()._new_conn()  # type: ignore[misc]
            except (NewConnectionError, ConnectTimeoutError) as err:
                last = err
            finally:
                self._dns_host = hostname
        assert last is not None
        raise last

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._attach()

    def request(self, *args, **kwargs):  # type: ignore[override]
        self._attach()  # a pooled connection is reused without connect()
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def _attach(self) -> None:
        current = deadline.current()
        if current is not None:
            current.attach(self.sock)  # type: ignore[attr-defined]


class PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    pass


class PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    pass


class PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}
