"""fal.ai's webhooks end to end: the emulator's fal queue posts an ED25519-signed webhook
when a request ends, serves its public key set under its mount, and the plugin, given
only the emulator's base URL, fetches that set and believes the webhook. Time is virtual:
nothing sleeps."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from emulated import LONG, SHORT, CallbackTarget, Emulated, emulated

from lipbridge import CallbackRejected, JobRequest, JobState
from lipbridge_emulator.dialects.fal import key_set, signing_key


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    with emulated() as running:
        yield running


def fal_signature_holds(key_set: dict[str, object], headers: dict[str, str], body: bytes) -> bool:
    """fal's scheme, verified apart from the plugin and the dialect."""
    lowered = {k.lower(): v for k, v in headers.items()}
    parts = [lowered[f"x-fal-webhook-{p}"] for p in ("request-id", "user-id", "timestamp")]
    message = "\n".join([*parts, hashlib.sha256(body).hexdigest()]).encode()
    [jwk] = key_set["keys"]  # type: ignore[index]
    x = jwk["x"]
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
    key.verify(bytes.fromhex(lowered["x-fal-webhook-signature"]), message)  # raises if not
    return True


def test_a_completed_request_is_posted_signed_and_the_plugin_believes_it(env: Emulated) -> None:
    with CallbackTarget() as target, env.client("fal") as client:
        request = JobRequest(
            video=env.videos[SHORT].url, audio=env.speeches[LONG].url, callback_url=target.url
        )
        handle = client.submit("fal", request)
        result = client.wait(handle)
        env.settle(lambda: bool(target.snapshot()))
        (call,) = target.snapshot()
        update = client.parse_callback("fal", dict(call.headers), call.body)
        forged = call.body.replace(b'"OK"', b'"ERROR"')
        with pytest.raises(CallbackRejected):
            client.parse_callback("fal", dict(call.headers), forged)
    with urllib.request.urlopen(f"{env.emu.base_url('fal')}/.well-known/jwks.json") as page:
        served = json.loads(page.read())  # the key set, served to anyone: no key sent
    assert served == key_set(signing_key())
    assert fal_signature_holds(served, dict(call.headers), call.body)
    assert json.loads(call.body)["status"] == "OK"
    assert (update.job_id, update.status.state, update.verified) == (
        handle.job_id,
        JobState.SUCCEEDED,
        True,
    )
    assert update.status.result is not None
    assert update.status.result.video_url == result.video_url


def test_a_cancelled_request_is_posted_as_an_error(env: Emulated) -> None:
    with CallbackTarget() as target, env.client("fal") as client:
        request = JobRequest(
            video=env.videos[SHORT].url, audio=env.speeches[LONG].url, callback_url=target.url
        )
        handle = client.submit("fal", request)
        client.cancel(handle)
        env.settle(lambda: bool(target.snapshot()))
        (call,) = target.snapshot()
        update = client.parse_callback("fal", dict(call.headers), call.body)
    body = json.loads(call.body)
    assert (body["status"], body["error"]) == ("ERROR", "Invalid status code: 499")
    assert update.status.state is JobState.CANCELLED and update.verified
