"""The HTTP view a plugin gets in ``ctx.http``: one provider, its key, its retry rules.

Plugins call :meth:`ProviderHTTP.request` with a path and a :class:`CallKind`; this
module adds the base URL, credentials and User-Agent, retries what is safe to retry,
and turns transport failures into lipbridge errors. What is safe:

* poll, cancel and estimate calls are retried on 429/502/503/504 and connection
  errors, with exponential backoff, jitter and ``Retry-After``; a wait longer than
  ``retry_after_max`` or past the caller's deadline ends the call instead, with the
  hint in the error, so the caller decides;
* a submit is retried only when the request surely never left (connect errors),
  unless the provider declares an idempotency-key header, in which case the same
  key is sent on every attempt. A submit that may have been received and then lost
  raises :class:`SubmitOutcomeUnknown` with everything needed to reconcile.
"""

from __future__ import annotations

import copy
import email.utils
import functools
import hashlib
import json as jsonlib
import logging
import math
import random
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit

import attrs
from attrs import frozen

from lipbridge.calls import CallKind as CallKind  # its home; re-exported here
from lipbridge.context import Clock, Credentials
from lipbridge.errors import (
    PRIVATE_HOSTS_HINT,
    AuthenticationError,
    ConfigurationError,
    InsufficientCredits,
    JobNotFound,
    LipbridgeError,
    PluginContractError,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubmitOutcomeUnknown,
)
from lipbridge.models import AuthScheme
from lipbridge.redact import holds_secret, mask_url, scrub, scrub_bytes
from lipbridge.sockets import Deadline, is_local_host
from lipbridge.transport import Response, Transport, TransportFailure
from lipbridge.uploads import FileBody

log = logging.getLogger("lipbridge.http")
_JSON = jsonlib.JSONEncoder(separators=(",", ":"))  # what json.dumps builds on every call


# Statuses after which a submit without an idempotency key may still have created a job.
SUBMIT_AMBIGUOUS_STATUSES = frozenset({500, 502, 504})


@frozen(kw_only=True)
class RetryPolicy:
    """Backoff ``backoff * 2**(n-1)`` capped at ``backoff_max``, minus up to ``jitter`` of it."""

    attempts: int = 4
    backoff: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.5
    retry_after_max: float = 120.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.backoff_max, self.backoff * 2.0 ** (attempt - 1))
        return base * (1.0 - self.jitter * rng.random())


@frozen(kw_only=True)
class Exchange:
    """One attempt, as the client saw it: ``status`` is None when no response came."""

    kind: CallKind
    method: str
    url: str
    status: int | None
    sent: bool
    fingerprint: str  # of the request body, to match a lost submit with the provider's records


def retry_after_seconds(value: str | None, clock: Clock) -> float | None:
    """Parse ``Retry-After`` as seconds or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # inf, nan, 1e999 and negative numbers are garbled, not instructions
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - clock.now()).total_seconds())


STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    400: RequestRejected,
    401: AuthenticationError,
    402: InsufficientCredits,
    403: AuthenticationError,
    404: JobNotFound,
    409: RequestRejected,
    422: RequestRejected,
    429: RateLimited,
}


def error_for_status(
    response: Response,
    *,
    provider: str,
    clock: Clock,
    message: str | None = None,
    code: str | None = None,
    job_id: str | None = None,
    overrides: Mapping[int, type[ProviderError]] | None = None,
) -> ProviderError:
    """The lipbridge error for an HTTP error response: status first, body details second.

    Plugins parse their error envelope into ``message``/``code`` and pass ``overrides``
    where their API departs from the common meaning (AI/ML API's 403 = no credits).
    """
    status = response.status
    cls = (overrides or {}).get(status) or STATUS_ERRORS.get(status)
    if cls is None:
        cls = ProviderUnavailable if status >= 500 else ProviderProtocolError
    text = f"HTTP {status}: {message or 'no error message'}"
    common: dict[str, Any] = {
        "provider": provider,
        "http_status": status,
        "code": code,
        "job_id": job_id,
    }
    if issubclass(cls, (RateLimited, ProviderUnavailable)):
        after = retry_after_seconds(response.header("retry-after"), clock)
        return cls(text, retry_after=after, **common)
    if issubclass(cls, ProviderProtocolError):
        return cls(text, body_excerpt=response.excerpt(), **common)
    return cls(text, **common)


def redact(response: Response) -> Response:
    """The response with any echo of a key replaced, so nothing built from it can quote it.

    Every answer is searched, the body in one pass and the headers in another; one that
    holds no key comes back as it was.
    """
    headers = "\n".join(response.headers.values())
    if not (holds_secret(response.body.decode("latin-1")) or holds_secret(headers)):
        return response
    return attrs.evolve(
        response,
        body=scrub_bytes(response.body),
        headers={name: scrub(value) for name, value in response.headers.items()},
    )


_NO_BODY = hashlib.sha256(b"").hexdigest()[:16]


def fingerprint(body: bytes | FileBody | None) -> str:
    if isinstance(body, FileBody):  # which file, not its bytes: they are not read twice
        body = f"{body.path}:{body.size}".encode()
    return hashlib.sha256(body).hexdigest()[:16] if body else _NO_BODY


def _anonymous_url(url: str, provider: str) -> str:
    """An upload URL a provider handed out: absolute http(s), or the plugin erred."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise PluginContractError(
            f"{provider}: an upload URL must be an absolute http(s) URL, not {mask_url(url)!r}"
        )
    return url


# A relative path that ``urljoin`` would append to a base URL ending in "/" unchanged: no
# scheme, query, fragment or ``;params``, no empty, "." or ".." segment, nothing to strip.
_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9\-._~!$&'()*+,=@%]+"
_PLAIN_PATH = re.compile(rf"(?:{_SEGMENT}/)*(?:{_SEGMENT})?")


@functools.lru_cache(maxsize=64)
def _base_parts(base_url: str) -> tuple[str, str, bool]:
    """``base_url``'s scheme and netloc, and whether a plain path may simply be appended to
    it (what :func:`urljoin` would do; checked once per base URL, not per request)."""
    parts = urlsplit(base_url)
    plain = (
        base_url == f"{parts.scheme}://{parts.netloc}{parts.path}"  # no query, no fragment
        and parts.path.endswith("/")
        and _PLAIN_PATH.fullmatch(parts.path[1:]) is not None
        and urljoin(base_url, "a/b") == base_url + "a/b"
    )
    return parts.scheme, parts.netloc, plain


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    """Scheme, host and port (the scheme's default if none is given) of an http(s) URL."""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


class ProviderHTTP:
    """One provider's HTTP access for one call; records every attempt in ``exchanges``."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        transport: Transport,
        clock: Clock,
        credentials: Credentials,
        auth: AuthScheme,
        user_agent: str,
        retry: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
        secret_headers: tuple[str, ...] = (),
        idempotency_header: str | None = None,
        idempotency_key: str | None = None,
        deadline: float | None = None,
        allow_private: bool | None = None,
        maybe_created: Mapping[int, str] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/") + "/"
        self.transport = transport
        self.clock = clock
        self.credentials = credentials
        self.auth = auth
        self.user_agent = user_agent
        self.retry = retry
        self.rng = rng or random.Random()
        self.secret_headers = (auth.header, *secret_headers)
        self.idempotency_header = idempotency_header
        self.idempotency_key = idempotency_key if idempotency_header else None
        self.maybe_created = dict(maybe_created or {})
        self.exchanges: list[Exchange] = []
        # Set when a keyed submit's last answer refused it after an earlier attempt may
        # have created the job: what any refusal of this submit really is.
        self.landed: SubmitOutcomeUnknown | None = None
        # The caller's deadline (a ``clock.monotonic()`` time): no attempt or retry sleep
        # goes past it. Private addresses: as the caller decided (a Client decides once per
        # provider), else where the base URL itself is one.
        self.deadline = deadline
        self.allow_private = (
            is_local_host(urlsplit(self.base_url).hostname)
            if allow_private is None
            else allow_private
        )

    def __repr__(self) -> str:
        return f"ProviderHTTP(provider={self.provider!r}, base_url={self.base_url!r})"

    def on(self, base_url: str) -> ProviderHTTP:
        """This access on another base URL: the same key, retries, deadline and record of
        exchanges (shared), without the submit's idempotency key. Callers check that the
        key may go there (:func:`lipbridge.hosts.api_http`)."""
        other = copy.copy(self)
        other.base_url = base_url.rstrip("/") + "/"
        other.idempotency_header = other.idempotency_key = None
        other.maybe_created = {}
        other.landed = None
        return other

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """Join ``path`` to the base URL; an absolute URL must stay on the base URL's host."""
        scheme, netloc, plain = _base_parts(self.base_url)
        relative = path.lstrip("/") if "://" not in path else None
        if plain and relative is not None and _PLAIN_PATH.fullmatch(relative):
            url = self.base_url + relative  # what urljoin gives, on the same host
        else:
            url = urljoin(self.base_url, relative) if relative is not None else path
            target = urlsplit(url)
            if (scheme, netloc) != (target.scheme, target.netloc):
                raise PluginContractError(
                    f"{self.provider}: refusing to send credentials to {target.scheme}://"
                    f"{target.netloc}, which is not the provider's base URL {self.base_url}"
                )
        return f"{url}?{urlencode(params)}" if params else url

    def rebase(self, url: str, default_base_url: str, *also: str) -> str:
        """A status, result or cancel URL the provider handed back, on the configured base
        URL. One on the base URL's host is kept. One under ``default_base_url`` (the
        plugin's documented default) or under a documented backup host in ``also`` has
        that base URL's part replaced, so an emulator or proxy base URL keeps working.
        Any other is a :class:`ProviderProtocolError`: the key goes only to the base URL's
        host, the same-host rule of :meth:`request`."""
        try:
            target = urlsplit(url)
            query = f"?{target.query}" if target.query else ""
            if _origin(target) == _origin(urlsplit(self.base_url)):  # spelt as the base URL
                scheme, netloc, _ = _base_parts(self.base_url)  # is, which the rule compares
                return f"{scheme}://{netloc}{target.path}{query}"
            for documented in (default_base_url, *also):
                home = urlsplit(documented)
                prefix = home.path.rstrip("/")
                if _origin(target) == _origin(home) and (target.path + "/").startswith(
                    prefix + "/"
                ):
                    return self.base_url + target.path[len(prefix) :].lstrip("/") + query
        except ValueError:  # not http(s), or a malformed host or port
            pass
        raise ProviderProtocolError(
            f"{self.provider} handed back the URL {mask_url(url)!r}, which is neither on the "
            f"base URL {self.base_url} nor under the API's own {default_base_url}",
            provider=self.provider,
        )

    def get(
        self, path: str, *, kind: CallKind, params: Mapping[str, str] | None = None
    ) -> Response:
        return self.request("GET", path, kind=kind, params=params)

    def post(self, path: str, *, kind: CallKind, json: Any = None) -> Response:
        return self.request("POST", path, kind=kind, json=json)

    def upload(
        self, path: str, body: FileBody, *, params: Mapping[str, str] | None = None
    ) -> Response:
        """POST a file (``FileBody.multipart`` or ``.raw``) to the provider's own upload
        API, with its credentials; read from disk as it is sent. Retried like a poll: a
        repeated upload costs nothing but storage."""
        return self.request("POST", path, kind=CallKind.UPLOAD, body=body, params=params)

    def put_file(self, url: str, body: FileBody, *, hint: str = "") -> Response:
        """PUT a file to a URL the provider handed out for it (a presigned upload URL,
        usually on a storage host). Sent without the provider's credentials, so the URL
        may be on any host; private addresses are refused as for downloads.

        A refusal raises: the storage's answer is not the provider's envelope, so its
        status picks the class only where it means the same everywhere (429 and 5xx,
        retryable); any other is a :class:`ProviderError` naming the step, with ``hint``
        (why such a URL refuses a PUT) and the storage's message, never the URL.
        """
        answer = self.request("PUT", url, kind=CallKind.UPLOAD, body=body, anonymous=True)
        if answer.ok:
            return answer
        transient = answer.status == 429 or answer.status >= 500
        raise error_for_status(
            answer,
            provider=self.provider,
            clock=self.clock,
            message=f"the upload's PUT to the signed URL was refused"
            f"{f' ({hint})' if hint else ''}: {answer.excerpt() or 'no body'}",
            overrides=None if transient else {answer.status: ProviderError},
        )

    def _deadline(self, kind: CallKind) -> Deadline:
        """This attempt's deadline: the call kind's total, or the caller's if sooner."""
        timeouts = self.transport.timeouts
        if kind is CallKind.UPLOAD:  # a large body: the download's budget
            return Deadline.within(
                self.clock, timeouts.download, read=timeouts.submit_read, cap=self.deadline
            )
        submit = kind is CallKind.SUBMIT
        return Deadline.within(
            self.clock,
            timeouts.submit if submit else timeouts.request,
            read=timeouts.submit_read if submit else timeouts.read,
            cap=self.deadline,
        )

    def _time_for(self, delay: float) -> bool:
        """Whether sleeping ``delay`` still leaves time before the caller's deadline."""
        return self.deadline is None or self.clock.monotonic() + delay < self.deadline

    def request(
        self,
        method: str,
        path: str,
        *,
        kind: CallKind,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: FileBody | None = None,
        anonymous: bool = False,
    ) -> Response:
        """Send with retries as ``kind`` allows. ``anonymous``: to ``path``, an absolute
        http(s) URL on any host, without credentials (see :meth:`put_file`)."""
        url = _anonymous_url(path, self.provider) if anonymous else self.url(path, params)
        payload: bytes | FileBody | None = (
            body if body is not None else None if json is None else _JSON.encode(json).encode()
        )
        all_headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json",
            **(headers or {}),
        }
        if not anonymous:
            all_headers[self.auth.header] = self.auth.prefix + self.credentials.require()
        if isinstance(payload, bytes):
            all_headers["Content-Type"] = "application/json"
        keyed = kind is CallKind.SUBMIT and self.idempotency_key is not None
        if keyed:
            assert self.idempotency_header is not None
            all_headers[self.idempotency_header] = self.idempotency_key  # type: ignore[assignment]
        retryable = kind.idempotent or keyed
        # A keyed submit is retried after attempts that may have created the job; once one
        # may have, no later refusal proves that nothing was: the outcome is unknown.
        uncertain = False
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.transport.send(
                    method,
                    url,
                    headers=all_headers,
                    body=payload,
                    secret_headers=() if anonymous else self.secret_headers,
                    deadline=self._deadline(kind),
                    allow_private=self.allow_private,
                )
            except TransportFailure as failure:
                self._record(kind, method, url, None, sent=failure.sent, body=payload)
                log.debug("%s %s attempt %d failed: %s", method, url, attempt, failure)
                if failure.refused_address:
                    raise self._refused(method, url, failure, kind, payload) from None
                delay = self.retry.delay(attempt, self.rng)
                uncertain = uncertain or (kind is CallKind.SUBMIT and failure.sent)
                if (
                    (retryable or not failure.sent)
                    and attempt < self.retry.attempts
                    and self._time_for(delay)
                ):
                    self.clock.sleep(delay)
                    continue
                if kind is CallKind.SUBMIT and (failure.sent or uncertain):
                    raise self._outcome_unknown(method, url, payload, str(failure), None) from None
                raise ProviderUnavailable(
                    f"{method} {url} failed after {attempt} attempt(s): {failure}",
                    provider=self.provider,
                ) from None
            response = redact(response)
            self._record(kind, method, url, response.status, sent=True, body=payload)
            if log.isEnabledFor(logging.DEBUG):  # every answer: skip the call when it is off
                log.debug("%s %s -> HTTP %d (attempt %d)", method, url, response.status, attempt)
            if response.truncated and response.ok:
                what = f"an answer over the {self.transport.max_body}-byte limit"
                if kind is CallKind.SUBMIT:
                    raise self._outcome_unknown(method, url, payload, what, response)
                raise ProviderProtocolError(
                    f"{method} {url} answered HTTP {response.status} with {what}",
                    provider=self.provider,
                    http_status=response.status,
                    retryable=kind.idempotent,
                )
            ambiguous = kind is CallKind.SUBMIT and response.status in SUBMIT_AMBIGUOUS_STATUSES
            if (
                retryable
                and response.status in self.retry.statuses
                and attempt < self.retry.attempts
            ):
                uncertain = uncertain or ambiguous or self._maybe_created(kind, response)
                hinted = retry_after_seconds(response.header("retry-after"), self.clock)
                delay = hinted if hinted is not None else self.retry.delay(attempt, self.rng)
                if delay <= self.retry.retry_after_max and self._time_for(delay):
                    self.clock.sleep(delay)
                    continue
                # else too long to wait inside one call: the caller decides
            # A keyed submit too: its retries are spent, and the job may exist. Resending
            # under the key later is safe, which is what an unknown outcome leads to.
            if ambiguous:  # the provider's own words too: they may say what happened
                said = response.excerpt()
                what = f"HTTP {response.status}" + (f": {said}" if said else "")
                raise self._outcome_unknown(method, url, payload, what, response)
            if uncertain and not response.ok:
                # The plugin reads the answer (it may know more: a job id it names), but a
                # refusal it raises cannot stand: see refused_submit.
                self.landed = self._outcome_unknown(
                    method, url, payload,
                    f"HTTP {response.status} after an earlier attempt that may have been "
                    "accepted",
                    response,
                )
            return response

    def _maybe_created(self, kind: CallKind, response: Response) -> bool:
        """A submit's answer that the provider documents as maybe made anyway."""
        marker = self.maybe_created.get(response.status)
        return kind is CallKind.SUBMIT and marker is not None and marker.encode() in response.body

    def _refused(
        self,
        method: str,
        url: str,
        failure: TransportFailure,
        kind: CallKind,
        body: bytes | FileBody | None,
    ) -> LipbridgeError:
        """A hop reached a private address: the base URL's own host, or a redirect's."""
        where = f"{method} {url}: {failure.cause}"
        if not failure.sent:
            return ConfigurationError(f"{self.provider}: {where}", hint=PRIVATE_HOSTS_HINT)
        if kind is CallKind.SUBMIT:
            return self._outcome_unknown(method, url, body, f"redirected: {failure.cause}", None)
        return ProviderProtocolError(
            f"{where}, reached by a redirect", provider=self.provider, hint=PRIVATE_HOSTS_HINT
        )

    def _record(
        self,
        kind: CallKind,
        method: str,
        url: str,
        status: int | None,
        *,
        sent: bool,
        body: bytes | FileBody | None,
    ) -> None:
        self.exchanges.append(
            Exchange(
                kind=kind,
                method=method,
                url=url,
                status=status,
                sent=sent,
                fingerprint=fingerprint(body),
            )
        )

    def _outcome_unknown(
        self,
        method: str,
        url: str,
        body: bytes | FileBody | None,
        what: str,
        response: Response | None,
    ) -> SubmitOutcomeUnknown:
        return self._unknown(
            method,
            url,
            fingerprint(body),
            response.status if response else None,
            response.excerpt() if response else None,
            f"the submit may have been accepted ({what}); "
            + (
                "re-sending it under the same idempotency key is safe: `lipbridge jobs resume`"
                if self.idempotency_key is not None
                else "check the provider's dashboard or job list before resubmitting, or you "
                "may pay twice"
            ),
        )

    def _unknown(
        self,
        method: str,
        url: str,
        request_fingerprint: str,
        status: int | None,
        excerpt: str | None,
        message: str,
    ) -> SubmitOutcomeUnknown:
        """The one place a :class:`SubmitOutcomeUnknown` and its ``details`` are built."""
        details: dict[str, Any] = {
            "provider": self.provider,
            "method": method,
            "url": url,
            "request_fingerprint": request_fingerprint,
            "idempotency_key": self.idempotency_key,
            "at": self.clock.now().isoformat(),
            "http_status": status,
            "body_excerpt": excerpt,
        }
        return SubmitOutcomeUnknown(
            message, details=details, provider=self.provider, http_status=status
        )

    def unreadable_submit(self, why: str) -> SubmitOutcomeUnknown | None:
        """For a submit the provider accepted (a 2xx) but whose answer the plugin could not
        read: the error saying the job probably exists; None if no submit was accepted.
        ``why`` (the plugin's error) already quotes the body."""
        accepted = self.accepted_submit()
        if accepted is None:
            return None
        return self._unknown(
            accepted.method,
            accepted.url,
            accepted.fingerprint,
            accepted.status,
            None,
            f"the provider accepted the submit (HTTP {accepted.status}) but its answer could "
            f"not be read ({why}); the job probably exists and is billed: look it up before "
            "resubmitting",
        )

    def accepted_submit(self) -> Exchange | None:
        """The last submit attempt that got a 2xx, if any: proof a job may exist."""
        for exchange in reversed(self.exchanges):
            if exchange.kind is CallKind.SUBMIT and exchange.status and exchange.status < 300:
                return exchange
        return None
