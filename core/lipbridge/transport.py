"""One shared, thread-safe urllib3 pool, and single HTTP exchanges over it.

This module sends one request (following redirects, stripping credentials when a
redirect leaves the host) and reports exactly what happened. Retrying and error
mapping are decisions about *meaning*, so they live in :mod:`lipbridge.http`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import urllib3
from attrs import frozen
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
)

from lipbridge.errors import ProviderProtocolError, excerpt

# Headers that carry credentials for some provider. Any header a plugin declares secret is
# added per request. They are removed whenever a redirect leaves the original host.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)
MAX_REDIRECTS = 3


@frozen(kw_only=True)
class Timeouts:
    """Seconds. ``read`` bounds each socket read, not the whole response."""

    connect: float = 5.0
    read: float = 30.0
    submit_read: float = 60.0
    download_read: float = 60.0


@frozen(kw_only=True)
class Response:
    """A fully read response. Header names are lower-cased."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self, provider: str = "") -> Any:
        """The parsed body; a non-JSON body is a :class:`ProviderProtocolError`."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProviderProtocolError(
                f"{self.method} {self.url} answered HTTP {self.status} with a non-JSON body",
                provider=provider,
                http_status=self.status,
                body_excerpt=excerpt(self.body),
            ) from None

    def excerpt(self) -> str:
        return excerpt(self.body)


class Stream:
    """A response whose body has not been read yet."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.headers.items()}

    def chunks(self, size: int) -> Iterator[bytes]:
        try:
            yield from self._raw.stream(size, decode_content=False)
        except HTTPError as exc:
            raise TransportFailure(exc, sent=True) from None


class TransportFailure(Exception):
    """No HTTP response. ``sent`` is False only when the request surely never left."""

    def __init__(self, cause: BaseException, *, sent: bool) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.sent = sent


def _not_sent(error: BaseException) -> bool:
    # urllib3 raises these before a single byte of the request is written.
    return isinstance(error, (NewConnectionError, ConnectTimeoutError))


class Transport:
    """Owns the connection pool. Share one per process; it is safe across threads."""

    def __init__(self, *, timeouts: Timeouts = Timeouts(), maxsize: int = 16) -> None:
        self.timeouts = timeouts
        self._pool = urllib3.PoolManager(maxsize=maxsize, retries=False)

    def __repr__(self) -> str:
        return f"Transport(timeouts={self.timeouts!r})"

    def _retries(self, secret_headers: Iterable[str]) -> urllib3.Retry:
        return urllib3.Retry(
            total=None,
            connect=0,
            read=0,
            status=0,
            other=0,
            redirect=MAX_REDIRECTS,
            respect_retry_after_header=False,
            raise_on_redirect=True,
            remove_headers_on_redirect=SECRET_HEADERS | {h.lower() for h in secret_headers},
        )

    def _urlopen(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        read_timeout: float,
        secret_headers: Iterable[str],
        preload: bool,
    ) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=self.timeouts.connect, read=read_timeout),
                retries=self._retries(secret_headers),
                redirect=True,
                preload_content=preload,
            )
        except MaxRetryError as exc:
            reason = exc.reason or exc
            raise TransportFailure(reason, sent=not _not_sent(reason)) from None
        except HTTPError as exc:
            raise TransportFailure(exc, sent=not _not_sent(exc)) from None
        except OSError as exc:
            raise TransportFailure(exc, sent=True) from None

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        read_timeout: float | None = None,
        secret_headers: Iterable[str] = (),
    ) -> Response:
        """Send once and read the whole body. Raises :class:`TransportFailure`."""
        raw = self._urlopen(
            method,
            url,
            headers=headers,
            body=body,
            read_timeout=read_timeout or self.timeouts.read,
            secret_headers=secret_headers,
            preload=True,
        )
        return Response(
            method=method,
            url=url,
            status=raw.status,
            headers={k.lower(): v for k, v in raw.headers.items()},
            body=raw.data,
        )

    @contextmanager
    def stream(self, url: str, *, headers: Mapping[str, str] | None = None) -> Iterator[Stream]:
        """Open a GET whose body is read in chunks; the connection is released on exit.

        Used for downloads, which never carry provider credentials.
        """
        raw = self._urlopen(
            "GET",
            url,
            headers={"Accept-Encoding": "identity", **(headers or {})},
            body=None,
            read_timeout=self.timeouts.download_read,
            secret_headers=(),
            preload=False,
        )
        try:
            yield Stream(raw)
        finally:
            raw.release_conn()

    def close(self) -> None:
        self._pool.clear()
