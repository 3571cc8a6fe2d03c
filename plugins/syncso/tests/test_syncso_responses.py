"""How the sync.so plugin reads answers: Generation statuses and results, the error
envelope, the two 429s, and a keyed create whose outcome sync.so cannot tell."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    JobHandle,
    JobNotFound,
    JobRequest,
    JobState,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SubmitOutcomeUnknown,
)
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client

syncso = partial(scripted_client, "syncso")  # (client, transport) answered in turn

GEN = "a47b00ce-29c1-40e8-badf-4f5b22c1e67e"
VIDEO = "https://assets.sync.so/docs/example-video.mp4"
AUDIO = "https://assets.sync.so/docs/example-audio.wav"
OUT = "https://api.sync.so/v2/generations/a47b00ce-29c1-40e8-badf-4f5b22c1e67e/result"
REQUEST = JobRequest(video=VIDEO, audio=AUDIO, sync_mode="loop")


def handle() -> JobHandle:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return JobHandle(provider="syncso", job_id=GEN, created_at=when, model="lipsync-2")


def generation(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": GEN, "createdAt": "2026-01-22T09:46:10.602Z", "status": status,
            "model": "lipsync-2", "input": [], **fields}


def envelope(status: int, message: object, code: str | None = None, **more: Any) -> dict[str, Any]:
    """sync.so's error envelope (the rate-limits guide's 429 example's fields)."""
    body = {"statusCode": status, "message": message, "error": "Reason", **more}
    if code is not None:
        body["errorCode"] = code
    return body


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("PENDING", JobState.QUEUED),
        ("PROCESSING", JobState.RUNNING),
        ("pending", JobState.QUEUED),  # status words are matched case-insensitively
    ],
)
def test_unfinished_statuses(word: str, state: JobState) -> None:
    client, _ = syncso(answer(generation(word)))
    status = client.poll(handle())
    assert (status.state, status.raw_status, status.result, status.error) == (
        state, word, None, None
    )


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"outputMediaUrl": OUT, "outputUrl": OUT}, OUT),
        ({"outputUrl": OUT}, OUT),  # the older schema: outputUrl only
        ({"outputMediaUrl": OUT, "outputUrl": None}, OUT),
        ({"outputMediaUrl": OUT, "outputUrl": "https://old.example.com/x.mp4"}, OUT),
    ],
    ids=["both", "outputUrl-only", "media-only", "media-wins"],
)
def test_a_completed_generation_gives_its_output(fields: dict[str, Any], url: str) -> None:
    client, _ = syncso(answer(generation("COMPLETED", outputDuration=9.98, **fields)))
    status = client.poll(handle())
    assert status.state is JobState.SUCCEEDED and status.result is not None
    assert (status.result.video_url, status.result.duration_seconds) == (url, 9.98)
    assert status.result.billed is None and status.result.expires_at is None


@pytest.mark.parametrize("output", [None, "", 7])
def test_completed_without_an_output_url_is_still_running(output: object) -> None:
    client, _ = syncso(answer(generation("COMPLETED", outputUrl=output)))
    status = client.poll(handle())
    assert (status.state, status.raw_status, status.result) == (JobState.RUNNING, "COMPLETED", None)


@pytest.mark.parametrize(
    ("fields", "message", "code"),
    [
        ({"error": "The provided audio exceeds the maximum allowed length.",
          "error_code": "generation_audio_length_exceeded"},
         "The provided audio exceeds the maximum allowed length.",
         "generation_audio_length_exceeded"),
        ({"error": "bad input", "errorCode": "generation_input_validation_failed"},
         "bad input", "generation_input_validation_failed"),
        ({}, "the generation ended FAILED with no message", None),
    ],
    ids=["error_code", "errorCode", "empty-payload"],
)
def test_a_failed_generation_carries_its_error(
    fields: dict[str, Any], message: str, code: str | None
) -> None:
    client, _ = syncso(answer(generation("FAILED", **fields)))
    status = client.poll(handle())
    assert status.state is JobState.FAILED and status.error is not None
    assert (status.error.message, status.error.code) == (message, code)


@pytest.mark.parametrize(
    ("word", "state"),
    [("REJECTED", JobState.FAILED), ("TIMED_OUT", JobState.FAILED),
     ("CANCELED", JobState.CANCELLED)],
)
def test_other_terminal_words(word: str, state: JobState) -> None:
    client, _ = syncso(answer(generation(word)))
    assert client.poll(handle()).state is state


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (400, ["outputFileName must be shorter", "model must be a string"], RequestRejected),
        (401, "Invalid or missing API key", AuthenticationError),
        (402, "Insufficient credits or plan limits exceeded", InsufficientCredits),
        (403, "Forbidden resource", AuthenticationError),
        (404, "Generation not found", JobNotFound),
        (409, "Idempotency-Key reused", RequestRejected),
        (422, "project_not_found", RequestRejected),
        (500, "Internal server error", ProviderUnavailable),
    ],
)
def test_the_envelope_is_read_and_the_status_picks_the_class(
    status: int, message: object, cls: type[ProviderError]
) -> None:
    client, _ = syncso(answer(envelope(status, message, code="some_code"), status=status))
    with pytest.raises(ProviderError) as caught:
        client.poll(handle())
    assert type(caught.value) is cls
    assert (caught.value.http_status, caught.value.code, caught.value.job_id) == (
        status, "some_code", GEN
    )
    said = "; ".join(message) if isinstance(message, list) else message
    assert said in caught.value.message


def test_a_rate_limit_429_is_rate_limited_with_retry_after() -> None:
    body = envelope(429, "Rate limit exceeded. Please try again later.", "rate_limit_exceeded")
    client, transport = syncso(answer(body, status=429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimited) as caught:
        client.submit("syncso", REQUEST)
    assert (caught.value.code, caught.value.retry_after) == ("rate_limit_exceeded", 600)
    assert "concurrency" not in caught.value.message
    assert len(transport.sent) == 1  # past the core's 120 s: the caller decides


def test_the_concurrency_429_says_it_is_the_concurrency_limit() -> None:
    body = envelope(429, "Too many concurrent generations", "concurrency_limit_reached")
    client, transport = syncso(answer(body, status=429))
    with pytest.raises(RateLimited) as caught:
        client.submit("syncso", REQUEST)
    error = caught.value
    assert error.code == "concurrency_limit_reached" and error.retry_after is None
    assert "Too many concurrent generations" in error.message
    assert "concurrency limit" in error.message and "Scale 15" in error.message
    # A keyed create is retried, each time under the same key.
    assert len(transport.sent) == 4
    assert len({sent.headers["Idempotency-Key"] for sent in transport.sent}) == 1


def test_a_keyed_503_is_retried_under_one_key_then_unavailable() -> None:
    client, transport = syncso(answer(envelope(503, "Service Unavailable"), status=503))
    with pytest.raises(ProviderUnavailable):
        client.submit("syncso", REQUEST)
    assert len(transport.sent) == 4
    assert len({sent.headers["Idempotency-Key"] for sent in transport.sent}) == 1


def test_a_refusal_after_a_maybe_made_create_is_an_unknown_outcome() -> None:
    # The first create may have made the generation: the 429 that follows proves nothing.
    maybe = answer(envelope(503, "Outcome unknown", "IDEMPOTENCY_OUTCOME_UNKNOWN"), status=503)
    refused = answer(envelope(429, "Too many", "rate_limit_exceeded"), status=429)
    client, transport = syncso(maybe, refused, refused, refused)
    with pytest.raises(SubmitOutcomeUnknown, match="earlier attempt"):
        client.submit("syncso", REQUEST)
    assert len({sent.headers["Idempotency-Key"] for sent in transport.sent}) == 1


def test_an_unknown_outcome_without_a_generation_is_submit_outcome_unknown() -> None:
    body = envelope(503, "Outcome unknown", "IDEMPOTENCY_OUTCOME_UNKNOWN")
    client, transport = syncso(answer(body, status=503))
    with pytest.raises(SubmitOutcomeUnknown) as caught:
        client.submit("syncso", REQUEST)
    error = caught.value
    assert error.job_id is None and "--provider-job" not in error.message
    key = transport.sent[-1].headers["Idempotency-Key"]
    assert (error.code, error.http_status, error.details["idempotency_key"]) == (
        "IDEMPOTENCY_OUTCOME_UNKNOWN", 503, key
    )
    assert "same Idempotency-Key" in error.message and "Outcome unknown" in error.message
    assert error.details["request_fingerprint"]  # what the job ledger reconciles by
    assert TEST_KEY not in repr(error.details)


def test_an_unknown_outcome_naming_its_generation_says_how_to_adopt_it() -> None:
    """Still unknown (an error status raises); the generation sync.so named is its job id."""
    body = envelope(503, "Outcome unknown", "IDEMPOTENCY_OUTCOME_UNKNOWN", generationId=GEN)
    client, _ = syncso(answer(body, status=503))
    with pytest.raises(SubmitOutcomeUnknown) as caught:
        client.submit("syncso", REQUEST)
    assert caught.value.job_id == caught.value.details["generation_id"] == GEN
    assert f"--provider-job {GEN}" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Bad Gateway</html>",
        b'{"statusCode":503,"errorCode":"IDEMPOTENCY_OUTCOME_UNKNOWN","generationId":7}',
    ],
    ids=["html", "generationId-not-a-string"],
)
def test_other_503_shapes(body: bytes) -> None:
    client, _ = syncso(answer(body, status=503))
    with pytest.raises((ProviderUnavailable, SubmitOutcomeUnknown)) as caught:
        client.submit("syncso", REQUEST)
    unknown = b"IDEMPOTENCY" in body
    assert isinstance(caught.value, SubmitOutcomeUnknown) is unknown
    assert caught.value.job_id is None


@pytest.mark.parametrize(
    "body",
    [{"status": "PENDING"}, {"id": "", "status": "PENDING"}, [GEN], b"not json"],
    ids=["no-id", "empty-id", "array", "not-json"],
)
def test_an_accepted_create_without_an_id_is_an_unknown_outcome(body: object) -> None:
    client, _ = syncso(answer(body, status=201))
    with pytest.raises(SubmitOutcomeUnknown):
        client.submit("syncso", REQUEST)


@pytest.mark.parametrize(
    "body",
    [{"id": GEN}, {"id": GEN, "status": None}, [1, 2], b"{"],
    ids=["no-status", "null-status", "array", "truncated"],
)
def test_unreadable_polls_are_protocol_errors(body: object) -> None:
    client, _ = syncso(answer(body))
    with pytest.raises(ProviderProtocolError):
        client.poll(handle())
