"""Reading providers' callbacks for a client: the secret each provider signs with (or the
public keys, :mod:`lipbridge.jwks`), the providers whose unsigned callbacks the user
accepts, and the plugin's ``lipbridge_parse_callback`` with its answer checked. See
docs/callbacks.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from lipbridge.callbacks import CallbackUpdate
from lipbridge.context import CallContext, Secret, env_var
from lipbridge.errors import CallbackRejected, UnsupportedCapability
from lipbridge.jwks import KeySets
from lipbridge.redact import register

if TYPE_CHECKING:
    from lipbridge.client import Client

SECRET_SUFFIX = "WEBHOOK_SECRET"
UNSIGNED_SUFFIX = "UNSIGNED_CALLBACKS"  # =accept: take this provider's unsigned callbacks
KEYS_DEADLINE = 30.0  # seconds to fetch a provider's webhook key set, retries included


class CallbackReader:
    """``Client.parse_callback``'s work, apart from the client's other jobs."""

    def __init__(
        self,
        client: Client,
        secrets: Mapping[str, str] | None,
        unsigned: Iterable[str],
        environ: Mapping[str, str],
    ) -> None:
        self._client = client
        self._secrets = dict(secrets or {})
        for secret in self._secrets.values():
            register(secret)
        self._unsigned = frozenset(unsigned)
        self._environ = environ
        self._keys = KeySets(client.clock)  # fetched webhook key sets, kept per client

    def secret(self, provider: str) -> Secret | None:
        """The client's secret for ``provider``, else ``LIPBRIDGE_<PROVIDER>_WEBHOOK_SECRET``."""
        value = self._secrets.get(provider) or self._environ.get(env_var(provider, SECRET_SUFFIX))
        if not value:
            return None
        register(value)
        return Secret(value)

    def accepts_unsigned(self, provider: str) -> bool:
        chosen = self._environ.get(env_var(provider, UNSIGNED_SUFFIX), "").strip().lower()
        return provider in self._unsigned or chosen == "accept"

    def parse(self, provider: str, headers: Mapping[str, str], body: bytes) -> CallbackUpdate:
        client = self._client
        info = client.registry.info(provider)
        if not client.registry.implements(provider, "lipbridge_parse_callback"):
            raise UnsupportedCapability(
                f"{provider} documents no callback lipbridge can read; its jobs are polled"
            )
        deadline = client.clock.monotonic() + KEYS_DEADLINE  # for fetching a key set only
        ctx = attrs.evolve(
            client.context(provider, info, deadline=deadline),
            webhook_secret=self.secret(provider),
        )
        lowered = {name.lower(): value for name, value in headers.items()}
        keys, fetched = self._keys.keys(info, ctx)
        try:
            update = self._read(attrs.evolve(ctx, webhook_keys=keys), lowered, body)
        except CallbackRejected:
            # Refused under kept keys: the provider may have rotated them; fetch once more,
            # unless that was done a moment ago (a forged callback must not make us fetch).
            newer = self._keys.refetch(info, ctx) if fetched else None
            if newer is None or newer == keys:
                raise
            update = self._read(attrs.evolve(ctx, webhook_keys=newer), lowered, body)
        if not update.verified and not self.accepts_unsigned(provider):
            raise CallbackRejected(
                f"{provider} does not sign its callbacks, so anyone who learns the URL could "
                f"send one; accept them with {env_var(provider, UNSIGNED_SUFFIX)}=accept or "
                f"Client(unsigned_callbacks={{{provider!r}}}) (each is then checked by a poll "
                "before it is trusted)"
            )
        return update

    def _read(self, ctx: CallContext, headers: Mapping[str, str], body: bytes) -> CallbackUpdate:
        """The plugin's hook on one callback, its answer checked."""
        client, provider = self._client, ctx.provider
        return client.call_hook(
            ctx,
            "lipbridge_parse_callback",
            CallbackUpdate,
            lambda: client.registry.call(
                provider, "lipbridge_parse_callback", headers=headers, body=body, ctx=ctx
            ),
        )
