"""Replicate's signed webhooks: Standard Webhooks, checked before a prediction is believed.

The verify-webhook guide and both official clients: the headers ``webhook-id``,
``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64>`` entries); the signed content is ``"<id>.<timestamp>.<raw body>"``; the key
is the base64 decoding of the secret's part after ``whsec_`` (``GET
/v1/webhooks/default/secret`` gives it). The core's ``hmac_sha256_hex`` keys by the
secret's text and answers hex, so the base64 HMAC is computed here; comparing and the
300-second age are the core's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from lipbridge import CallbackRejected, ConfigurationError
from lipbridge.plugin import CallContext, check_timestamp, env_var, same_signature

SECRET_SUFFIX = "WEBHOOK_SECRET"
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def signature(key: bytes, webhook_id: str, stamp: str, body: bytes) -> str:
    """The base64 HMAC-SHA256 of ``<id>.<timestamp>.<body>`` under ``key``."""
    signed = f"{webhook_id}.{stamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def key_of(secret: str, variable: str) -> bytes:
    """The HMAC key: the base64 after ``whsec_`` (the clients split at the last ``_``). A
    secret that is not base64 cannot be the one Replicate signed with, so nothing it
    checks is believed."""
    try:
        return base64.b64decode(secret.rsplit("_", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise CallbackRejected(
            f"{variable} is not a Replicate webhook secret (whsec_ then base64), so no "
            "Replicate signature can match it"
        ) from None


def verify(headers: Mapping[str, str], body: bytes, ctx: CallContext) -> None:
    """Raise unless ``body`` carries a current signature by ``ctx.webhook_secret``:
    ConfigurationError without a usable secret, CallbackRejected for a missing, wrong or
    stale signature."""
    variable = env_var(ctx.provider, SECRET_SUFFIX)
    if ctx.webhook_secret is None:
        raise ConfigurationError(
            f"set {variable} to your Replicate webhook signing secret "
            "(GET /v1/webhooks/default/secret) to verify its webhooks"
        )
    webhook_id, stamp, signatures = (headers.get(name, "") for name in HEADERS)
    if not (webhook_id and stamp and signatures):
        raise CallbackRejected(
            "no webhook-id, webhook-timestamp and webhook-signature headers: Replicate "
            "signs every webhook"
        )
    if not stamp.isdigit():
        raise CallbackRejected(f"the webhook-timestamp is not unix seconds: {stamp!r:.40}")
    expected = signature(key_of(ctx.webhook_secret.reveal(), variable), webhook_id, stamp, body)
    received = [
        value
        for version, _, value in (s.partition(",") for s in signatures.split())
        if version == "v1"
    ]
    if not any(same_signature(expected, value) for value in received):
        raise CallbackRejected(
            f"the webhook-signature does not match the body under {variable} (a forged "
            "callback, or another secret)"
        )
    check_timestamp(int(stamp), ctx.clock.now())
