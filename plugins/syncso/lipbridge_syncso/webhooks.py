"""sync.so's signed webhooks: checking ``Sync-Signature`` before a Generation is believed.

The webhooks guide: "we sign each webhook request with a signature ... included in the
``Sync-Signature`` header ... made out of 2 components: Timestamp (at the time of sending
the event); Signature hash (timestamp and the JSON payload)". Its sample verifiers parse
``t=(\\d+),v1=(.+)`` and compare ``v1`` with the hex HMAC-SHA256, keyed by the signing
secret as it is (``whsec_`` prefix included), of ``"<t>.<payload>"``, where the payload
is the parsed body re-serialised compactly (``JSON.stringify``; Python's
``json.dumps(payload, separators=(",", ":"))``). So the raw body is tried first (sync.so
presumably sends the compact JSON it signed) and then those two re-serialisations.

What the guide leaves open, lipbridge chooses: ``t`` is unix seconds (a value past
10**12 is read as milliseconds), at most 300 s from now, against replays; and the
payload reference's ``X-Signature-Primary`` header, which looks like an unedited
documentation template, is read with the same scheme when ``Sync-Signature`` is absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

from lipbridge import CallbackRejected, ConfigurationError
from lipbridge.plugin import (
    CallContext,
    check_timestamp,
    env_var,
    hmac_sha256_hex,
    same_signature,
)

SIGNATURE_HEADERS = ("sync-signature", "x-signature-primary")  # lower-cased, in preference
SECRET_SUFFIX = "WEBHOOK_SECRET"
MILLISECONDS_FROM = 10**12  # a t past this is in milliseconds (unix seconds reach it in 33658)
_PAIR = re.compile(r"\s*([A-Za-z0-9]+)=([^,]*)\s*")


def _signed_forms(body: bytes) -> Iterator[bytes]:
    """The bytes sync.so may have signed: the body as received, then the guide's compact
    re-serialisations of its JSON (non-ASCII kept, then escaped as Python's sample does)."""
    yield body
    try:
        payload = json.loads(body)
    except ValueError:
        return
    for ascii_only in (False, True):
        form = json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only).encode()
        if form != body:
            yield form


def _parse(header: str) -> tuple[str, list[str]]:
    """``t=<digits>,v1=<hex>[,v1=<hex>...]`` as (t, every v1); raises CallbackRejected."""
    t, v1 = None, []
    for item in header.split(","):
        pair = _PAIR.fullmatch(item)
        if pair is None:
            raise CallbackRejected(f"the Sync-Signature header is not t=...,v1=...: {header!r:.80}")
        if pair[1] == "t":
            t = pair[2]
        elif pair[1] == "v1":
            v1.append(pair[2].lower())
    if t is None or not t.isdigit() or not v1:
        raise CallbackRejected(
            f"the Sync-Signature header needs t=<unix seconds> and v1=<hex>: {header!r:.80}"
        )
    return t, v1


def verify(headers: Mapping[str, str], body: bytes, ctx: CallContext) -> None:
    """Raise unless ``body`` carries a current signature by ``ctx.webhook_secret``:
    ConfigurationError without a secret, CallbackRejected for a missing, wrong or stale
    signature."""
    secret = ctx.webhook_secret
    if secret is None:
        raise ConfigurationError(
            f"set {env_var(ctx.provider, SECRET_SUFFIX)} to the webhook signing secret of "
            "your sync.so account (https://sync.so/keys?tab=webhooks) to verify its webhooks"
        )
    header = next((headers[name] for name in SIGNATURE_HEADERS if headers.get(name)), None)
    if header is None:
        raise CallbackRejected("no Sync-Signature header: sync.so signs every webhook")
    t, received = _parse(header)
    key = secret.reveal()
    signed = any(
        same_signature(hmac_sha256_hex(key, f"{t}.".encode() + form), v1)
        for form in _signed_forms(body)
        for v1 in received
    )
    if not signed:
        raise CallbackRejected(
            f"the Sync-Signature does not match the body under "
            f"{env_var(ctx.provider, SECRET_SUFFIX)} (a forged callback, or another secret)"
        )
    seconds = int(t)
    check_timestamp(seconds / 1000 if seconds > MILLISECONDS_FROM else seconds, ctx.clock.now())
