"""Public keys a provider signs its callbacks with, published as a JSON Web Key Set
(RFC 7517) at the URL its plugin declares in ``ProviderInfo.webhook_jwks_url`` (fal.ai).

A callback hook may do no I/O, so the core fetches the set for it and passes the keys as
``ctx.webhook_keys``. The set is fetched like any other call (through the client's
transport, under a deadline, its answer bounded) but without credentials: the keys are
public, and the URL may be on another host than the API. It is kept per client for at
most a day; a callback refused under kept keys may fetch it again once (the provider
rotated its keys), at most every five minutes, so forged callbacks cannot make the
receiver hammer the provider. ``LIPBRIDGE_<PROVIDER>_WEBHOOK_JWKS`` (the JSON itself or
a file holding it) replaces the fetch, for a receiver that cannot reach the provider.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lipbridge.calls import CallKind
from lipbridge.context import CallContext, Clock, env_var
from lipbridge.errors import ConfigurationError, ProviderError, ProviderProtocolError
from lipbridge.http import error_for_status
from lipbridge.models import ProviderInfo

MAX_AGE = 24 * 3600.0  # seconds a fetched key set is used (providers say: cache <= 24 h)
REFETCH_EVERY = 300.0  # at most one fetch per provider this often after a refused callback
MAX_FILE = 1 << 20  # a configured key set is a few hundred bytes; refuse a stray big file
SETTING = "webhook_jwks"  # LIPBRIDGE_<PROVIDER>_WEBHOOK_JWKS, or Client(settings=...)

Keys = tuple[Mapping[str, Any], ...]


def parse_key_set(text: str, where: str) -> Keys:
    """The keys of a JWKS document (``{"keys": [{...}, ...]}``); ``ValueError`` naming
    ``where`` and what is wrong otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where} is not JSON ({exc})") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        raise ValueError(f'{where} is not a JWKS: expected {{"keys": [{{...}}, ...]}}')
    return tuple(keys)


def location(info: ProviderInfo, base_url: str) -> str:
    """Where the set is fetched: the declared URL, or, when the user points the provider's
    base URL elsewhere (an emulator, a proxy), the same path on that base URL, which the
    user already trusts with the key."""
    declared = info.webhook_jwks_url or ""
    if base_url.rstrip("/") == info.default_base_url.rstrip("/"):
        return declared
    return base_url.rstrip("/") + urlsplit(declared).path


def configured(provider: str, settings: Mapping[str, str]) -> Keys | None:
    """The user's own key set (``LIPBRIDGE_<PROVIDER>_WEBHOOK_JWKS``: the JSON, or a path to
    it), or None when none is set."""
    value = settings.get(SETTING, "").strip()
    if not value:
        return None
    name = env_var(provider, SETTING.upper())
    if not value.startswith("{"):
        try:
            with Path(value).expanduser().open("rb") as file:
                value = file.read(MAX_FILE + 1).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"{name} names a file that cannot be read ({exc}); give the key set's JSON or "
                "the path of a file holding it"
            ) from None
        if len(value) > MAX_FILE:
            raise ConfigurationError(f"{name}: the file is over {MAX_FILE} bytes; not a JWKS")
    try:
        return parse_key_set(value, name)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


class KeySets:
    """One client's fetched key sets: ``provider -> (keys, when fetched)`` on the client's
    monotonic clock, and when each was last fetched again after a refusal."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[Keys, float]] = {}
        self._refetched: dict[str, float] = {}

    def keys(self, info: ProviderInfo, ctx: CallContext) -> tuple[Keys, bool]:
        """The keys for ``ctx``'s callback, and whether they were fetched (so that a refusal
        may fetch them again); ``()`` for a provider that declares no key set."""
        if info.webhook_jwks_url is None:
            return (), False
        own = configured(ctx.provider, ctx.settings)
        if own is not None:
            return own, False
        now = self._clock.monotonic()
        with self._lock:
            kept = self._kept.get(ctx.provider)
        if kept is not None and now - kept[1] < MAX_AGE:
            return kept[0], True
        return self._fetch(info, ctx), True

    def refetch(self, info: ProviderInfo, ctx: CallContext) -> Keys | None:
        """The set fetched again after a callback its kept keys refused, or None when one was
        fetched again less than :data:`REFETCH_EVERY` ago."""
        now = self._clock.monotonic()
        with self._lock:
            last = self._refetched.get(ctx.provider)
            if last is not None and now - last < REFETCH_EVERY:
                return None
            self._refetched[ctx.provider] = now
        return self._fetch(info, ctx)

    def _fetch(self, info: ProviderInfo, ctx: CallContext) -> Keys:
        url = location(info, ctx.http.base_url)
        response = ctx.http.request("GET", url, kind=CallKind.POLL, anonymous=True)
        what = f"the webhook key set at {url}"
        if not response.ok:  # 429 and 5xx as usual (retryable); any other says only this
            transient = response.status == 429 or response.status >= 500
            raise error_for_status(
                response,
                provider=ctx.provider,
                clock=ctx.clock,
                message=f"{what} could not be fetched: {response.excerpt() or 'no body'}",
                overrides=None if transient else {response.status: ProviderError},
            )
        try:
            keys = parse_key_set(response.body.decode("utf-8", errors="replace"), what)
        except ValueError as exc:
            raise ProviderProtocolError(
                str(exc), provider=ctx.provider, body_excerpt=response.excerpt()
            ) from None
        with self._lock:
            self._kept[ctx.provider] = (keys, self._clock.monotonic())
        return keys
