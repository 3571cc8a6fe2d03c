"""fal.ai's webhooks: their ED25519 signature and their body.

fal's webhook page (docs.fal.ai/model-endpoints/webhooks) lists the steps: fetch the JSON
Web Key Set, verify the timestamp, construct the message, verify the signature. The
details are those every public verifier agrees on (notes: fal-replicate.md A10):

* headers ``x-fal-webhook-request-id``, ``x-fal-webhook-user-id``,
  ``x-fal-webhook-timestamp`` (unix seconds) and ``x-fal-webhook-signature`` (hex);
* the message is ``"\\n".join([request_id, user_id, timestamp, sha256_hex(body)])``,
  signed with ED25519 by any OKP key of ``https://rest.alpha.fal.ai/.well-known/jwks.json``;
* a timestamp more than 300 s from now is refused.

The keys arrive as ``ctx.webhook_keys``: the core fetches and caches the set (a hook does
no I/O). The body: ``{"request_id", "gateway_request_id", "status": "OK" | "ERROR",
"payload", "error"?, "payload_error"?}``; ``payload`` is the result's body (``{"video":
File}``), or on ``ERROR`` the model's error (``"error": "Invalid status code: 422"``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lipbridge import CallbackRejected, ConfigurationError, ProviderError
from lipbridge.plugin import CallbackUpdate, CallContext, Response, check_timestamp, text
from lipbridge_fal.wire import NAME, failure, finished

JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
PREFIX = "x-fal-webhook-"
SIGNED = ("request-id", "user-id", "timestamp")  # the message's parts before the body's hash
STATUS_CODE = re.compile(r"\b([1-5][0-9][0-9])\b")  # "Invalid status code: 422"
RAW_STATUS = "COMPLETED"  # a webhook is sent when the request completed: the queue's word


def public_keys(jwks: tuple[Mapping[str, Any], ...]) -> list[Ed25519PublicKey]:
    """The ED25519 keys of fal's key set (``kty`` OKP, ``crv`` Ed25519, ``x`` base64url)."""
    keys = []
    for jwk in jwks:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        raw = jwk.get("x")
        try:
            data = base64.urlsafe_b64decode(str(raw) + "=" * (-len(str(raw)) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(data))
        except (binascii.Error, ValueError):
            continue  # not a key: the others may verify
    if not keys:
        raise ConfigurationError(
            f"{NAME}: no ED25519 key (kty OKP, crv Ed25519, x) among the {len(jwks)} key(s) "
            "of fal's webhook key set; check LIPBRIDGE_FAL_WEBHOOK_JWKS, or unset it to fetch "
            f"{JWKS_URL}"
        )
    return keys


def verify(headers: Mapping[str, str], body: bytes, ctx: CallContext) -> None:
    """Raise :class:`CallbackRejected` unless one of fal's keys signed this callback within
    the last five minutes."""
    keys = public_keys(ctx.webhook_keys)
    values = [headers.get(PREFIX + part, "").strip() for part in (*SIGNED, "signature")]
    missing = [
        PREFIX + part for part, v in zip((*SIGNED, "signature"), values, strict=True) if not v
    ]
    if missing:
        raise CallbackRejected(f"the callback has no {', '.join(missing)}: fal signs each one")
    request_id, user_id, stamp, signature = values
    try:
        seconds = int(stamp)
        signed = bytes.fromhex(signature)
    except ValueError:
        raise CallbackRejected(
            f"{PREFIX}timestamp={stamp!r} or the signature is malformed; expected unix seconds "
            "and a hex ED25519 signature"
        ) from None
    check_timestamp(seconds, ctx.clock.now())
    message = "\n".join([request_id, user_id, stamp, hashlib.sha256(body).hexdigest()]).encode()
    for key in keys:
        try:
            key.verify(signed, message)
        except InvalidSignature:
            continue
        return
    raise CallbackRejected(
        f"the callback's {PREFIX}signature matches none of fal's {len(keys)} webhook key(s): "
        "not sent by fal, or altered on the way"
    )


def update(body: bytes, ctx: CallContext) -> CallbackUpdate:
    """A verified webhook, read as the result would be: ``OK`` with the model's output,
    ``ERROR`` with its error; no output at all (``payload_error``) is refused, so the job is
    polled for it."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    job_id = text(data.get("request_id")) if isinstance(data, dict) else None
    if not isinstance(data, dict) or job_id is None:
        raise CallbackRejected("not a fal webhook: no request_id in a JSON object")
    said, payload = text(data.get("status")), data.get("payload")
    if said not in ("OK", "ERROR") or payload is None:
        why = text(data.get("payload_error")) or f"status {said!r} with payload {payload!r}"
        raise CallbackRejected(f"fal's webhook for {job_id} carries no result ({why}); polled")
    if said == "OK":
        answer = Response(method="POST", url="webhook", status=200, headers={}, body=_json(payload))
        try:
            return CallbackUpdate(
                job_id=job_id, status=finished(answer, ctx, RAW_STATUS, (), job_id), verified=True
            )
        except ProviderError as exc:
            raise CallbackRejected(f"fal's webhook for {job_id}: {exc.message}") from None
    # "error": "Invalid status code: 422", the model's error as the payload; fal has done
    # its retries, so even a 5xx is the job's end.
    found = STATUS_CODE.search(text(data.get("error")) or "")
    answer = Response(
        method="POST",
        url="webhook",
        status=int(found[1]) if found else 500,
        headers={},
        body=_json(payload),
    )
    status = failure(answer, RAW_STATUS, (), "in fal's webhook")
    return CallbackUpdate(job_id=job_id, status=status, verified=True)


def _json(payload: object) -> bytes:
    return json.dumps(payload).encode()
