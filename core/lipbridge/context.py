"""What every routed hook receives: the call context and the pieces it is made of.

Hooks take one ``ctx`` so they can gain data later without changing signature. The
clock is injected so that no test, replay or contract run ever sleeps for real.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from attrs import field, frozen

from lipbridge.errors import ConfigurationError
from lipbridge.models import JobHandle
from lipbridge.redact import register

if TYPE_CHECKING:
    from lipbridge.errors import ProviderError
    from lipbridge.http import ProviderHTTP
    from lipbridge.transport import Response


# Where every virtual clock starts (the contract suite's and the emulator's), so that
# expiry times and Retry-After dates computed from one are the same on every run.
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for deadlines, and the only way to sleep."""

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    # time.monotonic itself, not a method calling it: deadlines read it several times a call.
    monotonic = staticmethod(time.monotonic)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class Secret:
    """A credential whose repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


def env_name(provider: str) -> str:
    """``fox-api`` -> ``FOX_API``: the provider part of ``LIPBRIDGE_<PROVIDER>_*``."""
    return re.sub(r"[^A-Za-z0-9]", "_", provider).upper()


def env_var(provider: str, suffix: str) -> str:
    """``LIPBRIDGE_<PROVIDER>_<SUFFIX>``; every such name is composed here, so none drifts."""
    return f"LIPBRIDGE_{env_name(provider)}_{suffix}"


@frozen(kw_only=True)
class Credentials:
    """An API key (maybe absent), where it came from, and the places it was looked for."""

    provider: str
    api_key: Secret | None
    looked_in: tuple[str, ...] = ()
    # Where the key was found: api_keys['name'], a variable's name, or KEYS_FILE.
    source: str | None = None

    def require(self) -> str:
        if self.api_key is None:
            names = " or ".join(self.looked_in) or env_var(self.provider, "API_KEY")
            raise ConfigurationError(
                f"no API key for provider {self.provider!r}: set {names}, store one with "
                f"`lipbridge keys set {self.provider}`, or pass api_keys={{...}} to Client"
            )
        return self.api_key.reveal()

    @classmethod
    def resolve(
        cls,
        provider: str,
        conventional: tuple[str, ...],
        environ: Mapping[str, str],
        explicit: str | None = None,
        stored: str | None = None,
    ) -> Credentials:
        """The key from ``explicit`` (``api_keys``), else the first variable set in
        ``environ``, else ``stored`` (the keys file's): that order is the precedence.

        A key that could not go into an HTTP header is refused here, before any request.
        """
        names = (env_var(provider, "API_KEY"), *conventional)
        found = [(f"api_keys[{provider!r}]", explicit or "")]
        found += [(name, environ.get(name, "")) for name in names]
        found.append((KEYS_FILE, stored or ""))
        for where, value in found:
            value = value.strip(_SURROUNDING)
            if value:
                check_key(value, f"{where} ({provider})" if where == KEYS_FILE else where)
                return cls(provider=provider, api_key=Secret(value), looked_in=names, source=where)
        return cls(provider=provider, api_key=None, looked_in=names)


# Credentials.source of a key from the keys file (lipbridge.keys).
KEYS_FILE = "the keys file"


# Stripped from both ends: a trailing newline from a file or a shell is not part of a key.
_SURROUNDING = " \t\r\n\f\v"
_NOT_ALLOWED = (
    (re.compile("[\r\n\x85\u2028\u2029]"), "a line break"),
    (re.compile(r"\x00"), "a NUL character"),
    (re.compile(r"[\x01-\x1f\x7f]"), "a control character"),
    (re.compile(r"\s"), "a space"),
    (re.compile(r"[^\x21-\x7e]"), "a non-ASCII character"),
)


def check_key(value: str, where: str) -> None:
    """Refuse a key with any character outside printable ASCII (0x21-0x7E).

    Such a key would be refused by the HTTP client or, worse, split a header; and the
    error would quote it. The message names ``where`` the key came from, never the key.
    """
    for pattern, what in _NOT_ALLOWED:
        if pattern.search(value):
            raise ConfigurationError(
                f"{where} contains {what}, so it cannot be an API key; a key may contain "
                "only printable ASCII characters (letters, digits and punctuation, "
                "0x21-0x7E) and no spaces (the value is not shown)"
            )


_LOGGER = logging.getLogger("lipbridge")  # every context's, looked up once


@frozen(kw_only=True)
class CallContext:
    """Passed to every routed hook. Fields are only ever added, never changed."""

    provider: str
    http: ProviderHTTP
    credentials: Credentials
    clock: Clock
    settings: Mapping[str, str] = field(factory=dict)  # provider-specific settings
    logger: logging.Logger = field(default=_LOGGER)
    # The secret the provider signs its callbacks with (LIPBRIDGE_<PROVIDER>_WEBHOOK_SECRET
    # or the client's), for lipbridge_parse_callback; None when none is configured.
    webhook_secret: Secret | None = None
    # The public keys (JWKs, as parsed JSON objects) of the provider's webhook key set, for
    # lipbridge_parse_callback of a provider that declares ``webhook_jwks_url``; else empty.
    webhook_keys: tuple[Mapping[str, Any], ...] = ()

    def new_handle(
        self,
        job_id: str,
        *,
        model: str | None = None,
        resume: Mapping[str, str] | None = None,
    ) -> JobHandle:
        """A handle stamped with the injected clock and this call's idempotency key."""
        return JobHandle(
            provider=self.provider,
            job_id=job_id,
            created_at=self.clock.now(),
            model=model,
            resume=dict(resume or {}),
            idempotency_key=self.http.idempotency_key,
        )

    def read(
        self,
        response: Response,
        job_id: str | None = None,
        *,
        message: tuple[str | int, ...] = ("error", "message"),
        code: tuple[str | int, ...] | list[tuple[str | int, ...]] = ("error", "code"),
        overrides: Mapping[int, type[ProviderError]] | None = None,
    ) -> Mapping[str, Any]:
        """:func:`lipbridge.wire.read_object` for this call's provider and clock."""
        from lipbridge.wire import read_object  # wire builds on http, which builds on this

        return read_object(
            response,
            provider=self.provider,
            clock=self.clock,
            job_id=job_id,
            message=message,
            code=code,
            overrides=overrides,
        )

    def require(
        self, response: Response, data: Any, *path: str | int, job_id: str | None = None
    ) -> str:
        """:func:`lipbridge.wire.required_text` for this call's provider."""
        from lipbridge.wire import required_text

        return required_text(response, data, *path, provider=self.provider, job_id=job_id)


def provider_settings(provider: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``LIPBRIDGE_<PROVIDER>_<KEY>`` variables (other than the API key and the webhook
    secret, which hooks get as secrets), keyed by ``key``.

    This scans the whole environment: the client calls it once per provider, not per call.
    """
    prefix = env_var(provider, "")
    secrets = {env_var(provider, "API_KEY"), env_var(provider, "WEBHOOK_SECRET")}
    return {
        name[len(prefix) :].lower(): value
        for name, value in environ.items()
        if name.startswith(prefix) and name not in secrets
    }
