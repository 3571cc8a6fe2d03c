"""sync.so's webhooks (``lipbridge_parse_callback``): the ``Sync-Signature`` check (the
research notes' vector, the guide's re-serialised payloads, milliseconds, the lenient
``X-Signature-Primary``), every refusal, and the Generation read exactly as a poll reads
it. The contract suite certifies the documented webhook from
``lipbridge_syncso/cassettes/syncso/callback``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest

from lipbridge import (
    CallbackRejected,
    Client,
    ConfigurationError,
    JobHandle,
    JobState,
    JobStatus,
)
from lipbridge.context import EPOCH
from lipbridge.plugin import CallbackUpdate
from lipbridge_contract.testing import answer, scripted_client

SECRET = "whsec_test_lipbridge"
NOW = int(EPOCH.timestamp())  # 1767225600: the scripted client's clock stands there
GEN = "a47b00ce-29c1-40e8-badf-4f5b22c1e67e"
OUT = "https://api.sync.so/v2/generations/a47b00ce-29c1-40e8-badf-4f5b22c1e67e/result"


def client(secret: str | None = SECRET) -> Client:
    environ = {} if secret is None else {"LIPBRIDGE_SYNCSO_WEBHOOK_SECRET": secret}
    return scripted_client("syncso", environ=environ)[0]


def generation(status: str, **fields: Any) -> dict[str, Any]:
    """A Generation as the webhook payload reference lists its fields."""
    return {"id": GEN, "createdAt": "2026-01-22T09:46:10.602Z", "status": status,
            "model": "lipsync-2", "input": [], "webhookUrl": "https://your-server.com/webhook",
            **fields}


def compact(payload: Any, *, ascii_only: bool = True) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only).encode()


def sign(signed: bytes, t: int = NOW, secret: str = SECRET) -> str:
    """The guide's scheme, computed here independently of the plugin."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse(body: bytes, headers: dict[str, str], secret: str | None = SECRET) -> CallbackUpdate:
    return client(secret).parse_callback("syncso", headers, body)


def signed(payload: Any, **how: Any) -> tuple[bytes, dict[str, str]]:
    body = compact(payload)
    return body, {"Content-Type": "application/json", "Sync-Signature": sign(body, **how)}


def test_the_notes_vector_verifies() -> None:
    body = b'{"id":"gen_1","status":"COMPLETED"}'
    header = ("t=1767225600,v1=41012883c6001111bd39b9d41458088e10fcf1621b43fea9f6a4dfb38dfb31b8")
    assert sign(body) == header  # the notes' vector, recomputed independently
    update = parse(body, {"Sync-Signature": header})
    assert (update.job_id, update.verified) == ("gen_1", True)
    # COMPLETED without an output URL: read as still running, as a poll reads it
    assert update.status.state is JobState.RUNNING


@pytest.mark.parametrize(
    "payload",
    [
        generation("COMPLETED", outputUrl=OUT, outputMediaUrl=OUT, outputDuration=9.98),
        generation("COMPLETED", outputUrl=OUT),
        generation("FAILED", error="Audio too long", error_code="generation_audio_length_exceeded"),
        generation("REJECTED", error="Content rejected"),
        generation("PROCESSING"),
    ],
    ids=["completed", "output-url-only", "failed", "rejected", "processing"],
)
def test_the_generation_reads_as_the_poll_reads_it(payload: dict[str, Any]) -> None:
    update = parse(*signed(payload))
    handle = JobHandle(provider="syncso", job_id=GEN, created_at=EPOCH, model="lipsync-2")
    polled: JobStatus = scripted_client("syncso", answer(payload))[0].poll(handle)
    assert update == CallbackUpdate(job_id=GEN, status=polled, verified=True)


def test_a_completed_webhook_carries_the_result() -> None:
    update = parse(*signed(generation("COMPLETED", outputMediaUrl=OUT, outputDuration=9.98)))
    assert update.status.state is JobState.SUCCEEDED
    assert update.status.result is not None
    assert (update.status.result.video_url, update.status.result.duration_seconds) == (OUT, 9.98)


def test_a_failed_webhook_without_its_error_is_still_a_failure() -> None:
    """Third-party receivers saw FAILED webhooks with no error fields: the job failed all
    the same, with a message saying sync.so gave none."""
    update = parse(*signed(generation("FAILED")))
    assert update.status.state is JobState.FAILED
    assert update.status.error is not None
    assert update.status.error.message == "the generation ended FAILED with no message"
    assert update.status.error.code is None


def test_a_failed_webhook_carries_error_and_error_code() -> None:
    update = parse(*signed(generation("FAILED", error="Audio too long",
                                      error_code="generation_audio_length_exceeded")))
    assert update.status.error is not None
    assert update.status.error.message == "Audio too long"
    assert update.status.error.code == "generation_audio_length_exceeded"


@pytest.mark.parametrize("ascii_only", [True, False], ids=["python-sample", "json-stringify"])
def test_a_body_reformatted_on_the_way_verifies_against_its_compact_form(ascii_only: bool) -> None:
    """The guide's verifiers sign the re-serialised payload (``JSON.stringify``; Python's
    compact ``json.dumps``), so a body that reached us with other spacing still verifies."""
    payload = generation("COMPLETED", outputMediaUrl=OUT, options={"prompt": "café ☕"})
    pretty = json.dumps(payload, indent=2, ensure_ascii=False).encode()
    header = sign(compact(payload, ascii_only=ascii_only))
    assert parse(pretty, {"Sync-Signature": header}).status.state is JobState.SUCCEEDED


def test_a_timestamp_in_milliseconds_is_read_as_such() -> None:
    body = compact(generation("COMPLETED", outputMediaUrl=OUT))
    assert parse(body, {"Sync-Signature": sign(body, t=NOW * 1000 + 250)}).verified


def test_x_signature_primary_is_read_when_sync_signature_is_absent() -> None:
    """The payload reference names this header (a documentation template, it seems): read
    with the same scheme, never in place of a Sync-Signature that is there."""
    body = compact(generation("COMPLETED", outputMediaUrl=OUT))
    assert parse(body, {"X-Signature-Primary": sign(body)}).verified
    with pytest.raises(CallbackRejected, match="does not match"):
        parse(body, {"Sync-Signature": sign(body, secret="whsec_other"),
                     "X-Signature-Primary": sign(body)})


def test_one_of_several_v1_signatures_is_enough() -> None:
    body = compact(generation("COMPLETED", outputMediaUrl=OUT))
    wrong = sign(body, secret="whsec_rotated_out").split(",")[1]
    assert parse(body, {"Sync-Signature": f"{sign(body)},{wrong}"}).verified


def refused(body: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(CallbackRejected) as caught:
        parse(body, headers)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    return caught.value.message


BODY = compact(generation("COMPLETED", outputMediaUrl=OUT))


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({}, "no Sync-Signature header"),
        ({"Sync-Signature": ""}, "no Sync-Signature header"),
        ({"Sync-Signature": "v1=abc"}, "needs t=<unix seconds> and v1=<hex>"),
        ({"Sync-Signature": f"t={NOW}"}, "needs t=<unix seconds> and v1=<hex>"),
        ({"Sync-Signature": f"t=soon,v1={'0' * 64}"}, "needs t=<unix seconds>"),
        ({"Sync-Signature": "sha256 deadbeef"}, "is not t=...,v1=..."),
        ({"Sync-Signature": sign(BODY, secret="whsec_forged")}, "does not match the body"),
        ({"Sync-Signature": sign(BODY)[:-1]}, "does not match the body"),
    ],
    ids=["missing", "empty", "no-t", "no-v1", "t-not-digits", "other-scheme", "wrong-secret",
         "truncated"],
)
def test_a_missing_malformed_or_wrong_signature_is_refused(
    headers: dict[str, str], said: str
) -> None:
    assert said in refused(BODY, headers)


def test_a_tampered_body_is_refused() -> None:
    header = sign(BODY)
    tampered = BODY.replace(OUT.encode(), b"https://evil.invalid/out.mp4")
    assert "does not match the body under LIPBRIDGE_SYNCSO_WEBHOOK_SECRET" in refused(
        tampered, {"Sync-Signature": header}
    )


@pytest.mark.parametrize(
    "t", [NOW - 301, NOW + 301, (NOW - 3600) * 1000], ids=["stale", "future", "stale-ms"]
)
def test_a_replayed_or_future_signature_is_refused(t: int) -> None:
    assert "allowed: at most 300 s" in refused(BODY, {"Sync-Signature": sign(BODY, t=t)})


def test_within_the_tolerance_a_signature_is_current() -> None:
    assert parse(BODY, {"Sync-Signature": sign(BODY, t=NOW - 300)}).verified


def test_without_a_secret_the_error_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="LIPBRIDGE_SYNCSO_WEBHOOK_SECRET"):
        parse(BODY, {"Sync-Signature": sign(BODY)}, secret=None)


def test_the_secret_may_come_from_the_client() -> None:
    scripted = scripted_client("syncso")[0]
    local = Client(registry=scripted.registry, transport=scripted.transport, clock=scripted.clock,
                   environ={}, ledger=False, webhook_secrets={"syncso": SECRET})
    assert local.parse_callback("syncso", {"Sync-Signature": sign(BODY)}, BODY).verified


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"status": "COMPLETED"}', b'{"id": "g1"}'],
    ids=["not-json", "a-list", "no-id", "no-status"],
)
def test_a_signed_body_that_is_no_generation_is_refused(body: bytes) -> None:
    assert "not a sync.so Generation" in refused(body, {"Sync-Signature": sign(body)})


def test_the_check_reads_the_signing_time_from_the_clients_clock() -> None:
    """The signature's age is measured on ``ctx.clock``, never the wall clock: a client
    whose clock stands an hour later refuses what the one at NOW accepts."""
    scripted = scripted_client("syncso", environ={"LIPBRIDGE_SYNCSO_WEBHOOK_SECRET": SECRET})[0]
    scripted.clock.sleep(3600)
    assert scripted.clock.now() == EPOCH + dt.timedelta(hours=1)
    with pytest.raises(CallbackRejected, match="allowed: at most 300 s"):
        scripted.parse_callback("syncso", {"Sync-Signature": sign(BODY)}, BODY)
