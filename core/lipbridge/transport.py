"""One shared, thread-safe urllib3 pool, and single HTTP exchanges over it.

This module sends one request and reports exactly what happened: it follows redirects
itself (so it knows whether the first hop reached the provider, and strips credentials
when a hop leaves the host), reads answers streaming up to a size limit after
decompression, and bounds every request by a total deadline (see :mod:`lipbridge.sockets`).
Retrying and error mapping are decisions about *meaning*, so they live in
:mod:`lipbridge.http`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import urllib3
from attrs import frozen
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NewConnectionError,
)

from lipbridge.calls import Response as Response  # its home; re-exported here
from lipbridge.context import Clock, SystemClock
from lipbridge.sockets import POOL_CLASSES, AddressRefused, Deadline, Rules, applied
from lipbridge.uploads import FileBody

# Headers that carry credentials for some provider. Any header a plugin declares secret is
# added per request. They are removed whenever a redirect leaves the original host.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The most an API answer (submit, poll, cancel, an error page) may hold once decoded.
MAX_BODY_BYTES = 8 << 20
READ_CHUNK = 64 << 10
# Content codings urllib3 can decode here (gzip and deflate; br and zstd when installed).
DECODABLE = frozenset(urllib3.response.HTTPResponse.CONTENT_DECODERS) | {"identity"}
# What urllib3 makes of retries=False, redirect=False on every call, made once: no retry,
# no redirect followed (redirects are followed here, see Transport._open).
NO_RETRIES = urllib3.Retry(total=False, redirect=False)


@frozen(kw_only=True)
class Timeouts:
    """Seconds. ``*_read`` bound the silence between two reads; the others a whole request.

    A request ends by its total deadline whatever the server does (stalls, drips bytes);
    a ``wait`` deadline shortens it further.
    """

    connect: float = 5.0
    read: float = 30.0
    request: float = 60.0
    submit_read: float = 60.0
    submit: float = 120.0
    download_read: float = 60.0
    download: float = 3600.0


class TransportFailure(Exception):
    """No HTTP response. ``sent`` is False only when the request surely never left."""

    def __init__(self, cause: BaseException, *, sent: bool) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.sent = sent

    @property
    def refused_address(self) -> bool:
        """The connection reached a private address the rules forbid."""
        return isinstance(self.cause, AddressRefused)


class Stream:
    """A response whose body has not been read yet; decoded as its Content-Encoding says."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.headers.items()}
        self.finished = False

    @property
    def encodings(self) -> list[str]:
        value = self.headers.get("content-encoding", "")
        return [part.strip().lower() for part in value.split(",") if part.strip()]

    @property
    def wire_bytes(self) -> int:
        """Bytes received so far as sent (before decoding), to check Content-Length."""
        return self._raw.tell()

    def chunks(self, size: int) -> Iterator[bytes]:
        try:
            yield from self._raw.stream(size, decode_content=True)
        except HTTPError as exc:
            raise TransportFailure(exc, sent=True) from None
        self.finished = True


def _not_sent(error: BaseException) -> bool:
    # urllib3 raises these before a single byte of the request is written.
    return isinstance(
        error, (NewConnectionError, ConnectTimeoutError, AddressRefused, LocationValueError)
    )


def _same_origin(a: str, b: str) -> bool:
    one, two = urlsplit(a), urlsplit(b)
    return (one.scheme, one.hostname, one.port) == (two.scheme, two.hostname, two.port)


class Transport:
    """Owns the connection pool. Share one per process; it is safe across threads.

    ``max_body`` caps every API answer once decoded (default 8 MiB); downloads stream to
    disk and are not capped.
    """

    def __init__(
        self,
        *,
        timeouts: Timeouts = Timeouts(),
        maxsize: int = 16,
        max_body: int = MAX_BODY_BYTES,
        clock: Clock | None = None,
    ) -> None:
        self.timeouts = timeouts
        self.max_body = max_body
        self.clock: Clock = clock or SystemClock()
        self._pool = urllib3.PoolManager(maxsize=maxsize, retries=False)
        self._pool.pool_classes_by_scheme = POOL_CLASSES

    def __repr__(self) -> str:
        return f"Transport(timeouts={self.timeouts!r}, max_body={self.max_body})"

    def _hop(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | FileBody | None,
        rules: Rules,
    ) -> urllib3.BaseHTTPResponse:
        """One request, no redirects followed; raises TransportFailure.

        A :class:`FileBody` is read from its start at every hop, with its length given.
        """
        if isinstance(body, FileBody):
            headers = {**headers, "Content-Type": body.content_type,
                       "Content-Length": str(body.size)}
        try:
            connect = min(self.timeouts.connect, max(rules.deadline.left(), 0.001))
            with applied(rules):
                return self._pool.urlopen(
                    method,
                    url,
                    body=body.chunks() if isinstance(body, FileBody) else body,
                    headers=dict(headers),
                    timeout=urllib3.Timeout(connect=connect, read=rules.deadline.read_timeout()),
                    retries=NO_RETRIES,
                    redirect=False,
                    preload_content=False,
                    decode_content=True,
                )
        except (HTTPError, AddressRefused) as exc:
            cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
            raise TransportFailure(cause or exc, sent=not _not_sent(cause or exc)) from None
        except (OSError, ValueError) as exc:  # includes the deadline having passed already
            raise TransportFailure(exc, sent=not isinstance(exc, TimeoutError)) from None

    def _open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | FileBody | None,
        rules: Rules,
        secret_headers: Iterable[str],
    ) -> tuple[str, urllib3.BaseHTTPResponse]:
        """Send, following up to MAX_REDIRECTS redirects; the final URL and response.

        Once the first hop got an answer the request counts as sent, whatever happens
        to later hops: a submit must never be repeated on the strength of a redirect.
        """
        current = headers  # never changed in place: a redirect makes a new dict
        for hop in range(MAX_REDIRECTS + 1):
            try:
                raw = self._hop(method, url, headers=current, body=body, rules=rules)
            except TransportFailure as failure:
                if hop == 0:
                    raise
                raise TransportFailure(failure.cause, sent=True) from None
            location = raw.headers.get("location")
            if raw.status not in REDIRECT_STATUSES or not location:
                return url, raw
            raw.close()  # the redirect's own body is never read
            raw.release_conn()
            try:
                target = urljoin(url, location)
                urlsplit(target).port  # noqa: B018 - raises on a malformed port
            except ValueError as exc:
                raise TransportFailure(exc, sent=True) from None
            if urlsplit(target).scheme not in ("http", "https"):
                raise TransportFailure(ValueError(f"redirect to {target!r}"), sent=True)
            if not _same_origin(url, target):
                secret = SECRET_HEADERS | {h.lower() for h in secret_headers}
                current = {k: v for k, v in current.items() if k.lower() not in secret}
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                current = {k: v for k, v in current.items() if k.lower() != "content-type"}
            url = target
        raise TransportFailure(
            urllib3.exceptions.ProtocolError(f"more than {MAX_REDIRECTS} redirects"), sent=True
        )

    def _read_limited(self, raw: urllib3.BaseHTTPResponse) -> tuple[bytes, bool]:
        """The decoded body up to ``max_body`` bytes, and whether there was more."""
        length = raw.length_remaining
        if length is not None and length <= self.max_body and "content-encoding" not in raw.headers:
            return raw.read(), False  # as sent, of a length known to fit: read it at once
        parts: list[bytes] = []
        size = 0
        for chunk in raw.stream(READ_CHUNK, decode_content=True):
            if size + len(chunk) > self.max_body:
                parts.append(chunk[: self.max_body - size])
                return b"".join(parts), True
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts), False

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | FileBody | None = None,
        read_timeout: float | None = None,
        secret_headers: Iterable[str] = (),
        deadline: Deadline | None = None,
        allow_private: bool = False,
    ) -> Response:
        """Send once and read the body (at most ``max_body``). Raises TransportFailure.

        Without a ``deadline`` the request gets ``timeouts.request`` in all.
        """
        rules = Rules(
            deadline
            or Deadline.within(
                self.clock, self.timeouts.request, read=read_timeout or self.timeouts.read
            ),
            allow_private,
        )
        final_url, raw = self._open(
            method, url, headers=headers, body=body, rules=rules, secret_headers=secret_headers
        )
        complete = False
        try:
            data, truncated = self._read_limited(raw)
            complete = not truncated
        except (HTTPError, OSError) as exc:
            raise TransportFailure(exc, sent=True) from None
        finally:
            if not complete:
                raw.close()  # the rest of the body is never read: drop the connection
            raw.release_conn()
        return Response(
            method=method,
            url=final_url,
            status=raw.status,
            headers={k.lower(): v for k, v in raw.headers.items()},
            body=data,
            truncated=truncated,
        )

    @contextmanager
    def stream(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
        allow_private: bool = False,
    ) -> Iterator[Stream]:
        """Open a GET whose body is read in chunks; the connection is released on exit.

        Used for downloads, which never carry provider credentials. A body left unread
        (an error page, a failed write) closes the connection instead of returning it
        to the pool, where its leftovers would be read as the next answer.
        """
        rules = Rules(
            deadline
            or Deadline.within(
                self.clock, self.timeouts.download, read=self.timeouts.download_read
            ),
            allow_private,
        )
        _, raw = self._open(
            "GET",
            url,
            headers={"Accept-Encoding": "identity", **(headers or {})},
            body=None,
            rules=rules,
            secret_headers=(),
        )
        stream = Stream(raw)
        try:
            yield stream
        finally:
            if not stream.finished:
                raw.close()
            raw.release_conn()

    def close(self) -> None:
        self._pool.clear()
