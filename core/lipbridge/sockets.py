"""What a pooled connection may do: reach only allowed addresses, read only until a deadline.

urllib3's timeouts bound each socket read, not a whole response, so a server dripping one
byte per second keeps a request alive forever. Here every read of a response (its status
line and headers included) first checks the request's :class:`Deadline` and shortens the
socket timeout to the time left. And the address a connection actually reached is checked
before a byte of the request is written: a provider or a redirect cannot point the client
at a private network by a name that resolves there.

The rules travel in a context variable set by :mod:`lipbridge.transport` around each
exchange, because urllib3 builds connections and responses deep inside its own calls.
"""

from __future__ import annotations

import contextvars
import http.client
import io
import ipaddress
import socket
from typing import Any

from attrs import frozen
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from lipbridge.context import Clock


@frozen
class Deadline:
    """When one request must be over (by ``clock``) and the longest silence between reads."""

    clock: Clock
    at: float
    read: float

    @classmethod
    def within(
        cls, clock: Clock, seconds: float, *, read: float, cap: float | None = None
    ) -> Deadline:
        """``seconds`` from now, or ``cap`` (a deadline of the caller's) if that is sooner."""
        at = clock.monotonic() + seconds
        return cls(clock, at if cap is None else min(at, cap), read)

    def left(self) -> float:
        return self.at - self.clock.monotonic()

    def read_timeout(self) -> float:
        """The socket timeout for the next read; :class:`TimeoutError` once time is up."""
        left = self.at - self.clock.monotonic()  # self.left(), without a call per read
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        return min(self.read, left)


@frozen
class Rules:
    deadline: Deadline
    allow_private: bool


class AddressRefused(Exception):
    """The connection reached a loopback, private or link-local address it may not use."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is at {address}, a private or local address")
        self.host = host
        self.address = address


_rules: contextvars.ContextVar[Rules | None] = contextvars.ContextVar("lipbridge_rules")


class applied:  # lower case: used like a function, ``with applied(rules):``
    """Connections made and responses started inside this block follow ``rules``.

    A class rather than a generator-based context manager: it wraps every request.
    """

    __slots__ = ("_rules", "_token")

    def __init__(self, rules: Rules) -> None:
        self._rules = rules

    def __enter__(self) -> None:
        self._token = _rules.set(self._rules)

    def __exit__(self, *exc: object) -> None:
        _rules.reset(self._token)


def is_private_address(address: str) -> bool:
    """Loopback, private, link-local, unspecified, reserved or multicast: not the internet."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return True  # not an IP address at all: nothing to trust
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_reserved
        or ip.is_multicast
    )


def is_local_host(host: str | None) -> bool:
    """``localhost`` or a literal private address: a base URL that names a local stand-in."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a name: where it resolves is checked when connecting
    return is_private_address(host.strip("[]"))


class _DeadlineReader(io.RawIOBase):
    """The raw socket file of a response, each read bounded by the deadline."""

    def __init__(self, buffered: Any, sock: socket.socket, deadline: Deadline) -> None:
        self._buffered = buffered  # http.client's own file: keeps the socket's io reference
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        timeout = self._deadline.read_timeout()
        if timeout != self._sock.gettimeout():  # setting it is a system call: only on change
            self._sock.settimeout(timeout)
        return self._buffered.raw.readinto(buffer)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._buffered.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        rules = _rules.get(None)
        if rules is not None:
            self.fp = io.BufferedReader(_DeadlineReader(self.fp, sock, rules.deadline))


class _Guarded:
    """Mixed into urllib3's connections: check the peer, read with deadlines."""

    response_class: type[http.client.HTTPResponse] = _DeadlineResponse
    host: str

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        rules = _rules.get(None)
        address = str(sock.getpeername()[0])
        if (rules is None or not rules.allow_private) and is_private_address(address):
            sock.close()
            raise AddressRefused(self.host, address)
        return sock


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


# urllib3's own classes, swapped for guarded ones. A class patched in by a test tool
# (vcrpy's replay stubs, which open no socket) is left as it is.
_GUARDED: dict[type, type] = {
    HTTPConnection: GuardedHTTPConnection,
    HTTPSConnection: GuardedHTTPSConnection,
}


class GuardedHTTPPool(HTTPConnectionPool):
    @property
    def ConnectionCls(self) -> type:  # type: ignore[override]  # urllib3's name
        base = HTTPConnectionPool.ConnectionCls
        return _GUARDED.get(base, base)


class GuardedHTTPSPool(HTTPSConnectionPool):
    @property
    def ConnectionCls(self) -> type:  # type: ignore[override]  # urllib3's name
        base = HTTPSConnectionPool.ConnectionCls
        return _GUARDED.get(base, base)


POOL_CLASSES = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}
