"""fal.ai's ED25519-signed webhooks: the signature under fal's published key set, which
the core fetches (without the key), keeps for a day and fetches again once when a
signature fails (rotated keys), and the body read as the result would be. Every key is
made here, for the test: none is real."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lipbridge import (
    CallbackRejected,
    Client,
    ConfigurationError,
    JobRequest,
    JobState,
    ProviderProtocolError,
    ProviderUnavailable,
)
from lipbridge.context import EPOCH
from lipbridge.jwks import MAX_AGE, REFETCH_EVERY
from lipbridge_contract.harness import ScriptedTransport, SteppedClock
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client

JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
RID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
OUT = "https://v3.fal.media/files/penguin/output.mp4"
NOW = int(EPOCH.timestamp())


def jwks(*keys: Ed25519PrivateKey) -> dict[str, Any]:
    """The public halves as fal publishes them: OKP, Ed25519, ``x`` base64url."""
    found = []
    for key in keys:
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        found.append({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": x[:8], "use": "sig"})
    return {"keys": found}


def webhook(
    key: Ed25519PrivateKey, payload: Any, *, status: str = "OK", at: int = NOW, **extra: Any
) -> tuple[dict[str, str], bytes]:
    """A webhook as fal sends it: the body and its four signed headers."""
    body = json.dumps(
        {
            "request_id": RID,
            "gateway_request_id": RID,
            "status": status,
            "payload": payload,
            **extra,
        }
    ).encode()
    parts = [RID, "user-1234", str(at), hashlib.sha256(body).hexdigest()]
    signature = key.sign("\n".join(parts).encode()).hex()
    headers = {
        "X-Fal-Webhook-Request-Id": RID,
        "X-Fal-Webhook-User-Id": "user-1234",
        "X-Fal-Webhook-Timestamp": str(at),
        "X-Fal-Webhook-Signature": signature,
    }
    return headers, body


VIDEO = {"video": {"url": OUT, "content_type": "video/mp4", "file_name": "output.mp4"}}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def client_for(*answers: Any, **kwargs: Any) -> tuple[Client, ScriptedTransport]:
    return scripted_client("fal", *(answer(a) for a in answers), **kwargs)


def test_a_signed_webhook_is_the_result_and_its_keys_are_fetched_without_the_key(
    key: Ed25519PrivateKey,
) -> None:
    client, transport = client_for(jwks(key))
    update = client.parse_callback("fal", *webhook(key, VIDEO))
    assert (update.job_id, update.verified) == (RID, True)
    assert update.status.state is JobState.SUCCEEDED
    assert update.status.result is not None and update.status.result.video_url == OUT
    [fetch] = transport.sent
    assert (fetch.method, fetch.url) == ("GET", JWKS_URL)
    assert "authorization" not in {name.lower() for name in fetch.headers}
    assert TEST_KEY not in json.dumps(dict(fetch.headers))


def test_the_key_set_is_kept_for_a_day_then_fetched_again(key: Ed25519PrivateKey) -> None:
    client, transport = client_for(jwks(key))
    clock = client.clock
    assert isinstance(clock, SteppedClock)
    client.parse_callback("fal", *webhook(key, VIDEO))
    clock.sleep(MAX_AGE - 60)
    client.parse_callback("fal", *webhook(key, VIDEO, at=NOW + int(MAX_AGE) - 60))
    assert len(transport.sent) == 1
    clock.sleep(120)
    client.parse_callback("fal", *webhook(key, VIDEO, at=NOW + int(MAX_AGE) + 60))
    assert len(transport.sent) == 2


def test_rotated_keys_are_fetched_once_and_forgeries_do_not_refetch(
    key: Ed25519PrivateKey,
) -> None:
    rotated = Ed25519PrivateKey.generate()
    client, transport = client_for(jwks(key), jwks(rotated))
    client.parse_callback("fal", *webhook(key, VIDEO))
    assert client.parse_callback("fal", *webhook(rotated, VIDEO)).verified  # after a refetch
    assert len(transport.sent) == 2
    forger = Ed25519PrivateKey.generate()
    for _ in range(3):
        with pytest.raises(CallbackRejected, match="matches none of fal's 1 webhook key"):
            client.parse_callback("fal", *webhook(forger, VIDEO))
    assert len(transport.sent) == 2  # the rotation's refetch was a moment ago: none
    client.clock.sleep(REFETCH_EVERY)
    for _ in range(3):
        with pytest.raises(CallbackRejected):
            client.parse_callback("fal", *webhook(forger, VIDEO, at=NOW + int(REFETCH_EVERY)))
    assert len(transport.sent) == 3  # five minutes later, one more


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: (h, b.replace(RID.encode(), b"80e732af-660e-45cd-bd63-580e4f2a94c0")),
        lambda h, b: ({**h, "X-Fal-Webhook-User-Id": "user-9999"}, b),
        lambda h, b: ({**h, "X-Fal-Webhook-Signature": "zz"}, b),
        lambda h, b: ({k: v for k, v in h.items() if "Signature" not in k}, b),
    ],
    ids=["body-altered", "user-altered", "signature-not-hex", "unsigned"],
)
def test_an_altered_or_unsigned_webhook_is_refused(key: Ed25519PrivateKey, change: Any) -> None:
    client, _ = client_for(jwks(key))
    with pytest.raises(CallbackRejected):
        client.parse_callback("fal", *change(*webhook(key, VIDEO)))


def test_a_replayed_webhook_is_refused(key: Ed25519PrivateKey) -> None:
    client, _ = client_for(jwks(key))
    with pytest.raises(CallbackRejected, match="allowed: at most 300 s"):
        client.parse_callback("fal", *webhook(key, VIDEO, at=NOW - 301))


def test_an_error_webhook_is_the_models_failure(key: Ed25519PrivateKey) -> None:
    detail = [
        {"loc": ["body", "video_url"], "msg": "File download error", "type": "file_download_error"}
    ]
    client, _ = client_for(jwks(key))
    update = client.parse_callback(
        "fal",
        *webhook(key, {"detail": detail}, status="ERROR", error="Invalid status code: 422"),
    )
    assert update.status.state is JobState.FAILED
    assert update.status.error is not None
    assert update.status.error.code == "file_download_error"
    assert "video_url: File download error" in update.status.error.message


def test_a_webhook_without_its_payload_is_left_to_the_polls(key: Ed25519PrivateKey) -> None:
    client, _ = client_for(jwks(key))
    headers, body = webhook(key, None, payload_error="Response payload is not JSON")
    with pytest.raises(CallbackRejected, match="Response payload is not JSON"):
        client.parse_callback("fal", headers, body)


def test_the_users_key_set_replaces_the_fetch(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    saved = tmp_path / "fal-jwks.json"
    saved.write_text(json.dumps(jwks(key)))
    for value in (json.dumps(jwks(key)), str(saved)):
        client, transport = scripted_client("fal", environ={"LIPBRIDGE_FAL_WEBHOOK_JWKS": value})
        assert client.parse_callback("fal", *webhook(key, VIDEO)).verified
        assert transport.sent == []


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("{not json", "is not JSON"),
        ('{"keys": 3}', "is not a JWKS"),
        ("/no/such.json", "cannot be read"),
    ],
)
def test_an_unusable_key_set_is_a_configuration_error(
    key: Ed25519PrivateKey, value: str, said: str
) -> None:
    client, _ = scripted_client("fal", environ={"LIPBRIDGE_FAL_WEBHOOK_JWKS": value})
    with pytest.raises(ConfigurationError, match=f"LIPBRIDGE_FAL_WEBHOOK_JWKS.*{said}|{said}"):
        client.parse_callback("fal", *webhook(key, VIDEO))


def test_a_key_set_without_ed25519_keys_is_a_configuration_error(key: Ed25519PrivateKey) -> None:
    client, _ = client_for({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]})
    with pytest.raises(ConfigurationError, match="no ED25519 key"):
        client.parse_callback("fal", *webhook(key, VIDEO))


def test_a_key_set_that_is_no_jwks_is_the_providers_fault(key: Ed25519PrivateKey) -> None:
    client, _ = client_for(["not", "a", "jwks"])
    with pytest.raises(ProviderProtocolError, match="is not a JWKS"):
        client.parse_callback("fal", *webhook(key, VIDEO))


def test_an_emulator_base_url_serves_the_key_set_too(key: Ed25519PrivateKey) -> None:
    base = "http://127.0.0.1:8123/fal"
    client, transport = scripted_client(
        "fal", answer(jwks(key)), environ={"LIPBRIDGE_FAL_BASE_URL": base}
    )
    client.parse_callback("fal", *webhook(key, VIDEO))
    assert transport.sent[0].url == f"{base}/.well-known/jwks.json"


def test_the_submit_asks_for_the_webhook() -> None:
    hook = "https://hooks.example.com/fal?job=1"
    client, transport = scripted_client("fal", answer({"request_id": RID, **_urls()}))
    client.submit(
        "fal",
        JobRequest(
            video="https://example.com/v.mp4", audio="https://example.com/a.wav", callback_url=hook
        ),
    )
    query = parse_qs(urlsplit(transport.sent[0].url).query)
    assert query == {"fal_webhook": [hook]}


def _urls() -> dict[str, str]:
    base = f"https://queue.fal.run/fal-ai/sync-lipsync/requests/{RID}"
    return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def test_an_unreachable_key_set_is_retryable_so_fal_sends_again(key: Ed25519PrivateKey) -> None:
    client, transport = scripted_client("fal", answer({"detail": "down"}, status=503))
    with pytest.raises(ProviderUnavailable) as raised:
        client.parse_callback("fal", *webhook(key, VIDEO))
    assert raised.value.retryable
    assert all(sent.url == JWKS_URL for sent in transport.sent)  # retried as a poll, no more
