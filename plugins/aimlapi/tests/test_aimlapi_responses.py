"""How the AI/ML API plugin reads answers: errors, status words, the bill."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest

from lipbridge import (
    AuthenticationError,
    BilledUsage,
    InsufficientCredits,
    JobHandle,
    JobRequest,
    JobState,
    RequestRejected,
)
from lipbridge_aimlapi.wire import STATUSES
from lipbridge_contract.testing import answer, scripted_client

aimlapi = partial(scripted_client, "aimlapi")  # (client, transport) answered in turn


VIDEO = "https://cdn.example.com/face.mp4"
AUDIO = "https://cdn.example.com/speech.mp3"
GEN = "60ac7c34-3224-4b14-8e7d-0aa0db708325"
DONE_URL = "https://cdn.aimlapi.com/generations/hedgehog/1759866285599-0cdfb138-c03a-49d4-a601-4f6413e27b15.mp4"
COST = {"x-aimlapi-credits-used": "2000000", "x-aimlapi-usd-spent": "1.000000000"}
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
FREE = {"x-aimlapi-credits-used": "0", "x-aimlapi-usd-spent": "0.000000000"}


def envelope(message, status):
    return {
        "message": message,
        "path": "/v2/video/generations",
        "requestId": "r-1",
        "statusCode": status,
        "timestamp": "2025-03-11T07:13:27.813Z",
    }


def handle(job_id):
    """A handle for a generation submitted elsewhere."""
    return JobHandle(provider="aimlapi", job_id=job_id, created_at=EPOCH)


def completed(**extra):
    return {"id": GEN, "status": "completed", "video": {"url": DONE_URL}, **extra}


def submit(client):
    return client.submit("aimlapi", JobRequest(video=VIDEO, audio=AUDIO))


def test_403_means_out_of_credits():
    message = "You've run out of credits. Please top up your balance or update your payment method"
    client, transport = aimlapi(answer(envelope(message, 403), status=403))
    with pytest.raises(InsufficientCredits) as caught:
        submit(client)
    assert message in str(caught.value)
    assert caught.value.code is None  # the envelope has no error-code field
    assert len(transport.sent) == 1


def test_401_stays_an_authentication_error():
    client, _ = aimlapi(answer(envelope("This request requires a valid API key.", 401), 401))
    with pytest.raises(AuthenticationError, match="requires a valid API key"):
        submit(client)


def test_a_list_message_is_joined():
    details = ["Body validation error!", 'Invalid url at "video_url"']
    client, _ = aimlapi(answer(envelope(details, 400), status=400))
    with pytest.raises(RequestRejected) as caught:
        submit(client)
    assert 'Body validation error!; Invalid url at "video_url"' in str(caught.value)


def test_poll_sends_the_id_as_an_escaped_query_parameter():
    client, transport = aimlapi(answer({"id": "a&b", "status": "queued"}))
    client.poll(handle("a&b=c/d"))
    url = urlsplit(transport.sent[0].url)
    assert url.path == "/v2/video/generations"
    assert parse_qs(url.query) == {"generation_id": ["a&b=c/d"]}


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("queued", JobState.QUEUED),
        ("waiting", JobState.QUEUED),
        ("generating", JobState.RUNNING),
        ("completed", JobState.SUCCEEDED),
        ("succeeded", JobState.SUCCEEDED),
        ("error", JobState.FAILED),
        ("failed", JobState.FAILED),
    ],
)
def test_every_documented_status_word_is_mapped(word, state):
    assert STATUSES.state(word) is state


def test_a_success_word_without_a_video_url_is_still_running():
    client, _ = aimlapi(answer({"id": GEN, "status": "succeeded", "video": None}))
    status = client.poll(handle(GEN))
    assert status.state is JobState.RUNNING
    assert status.raw_status == "succeeded"


def test_a_failed_generation_carries_the_error_name_and_message():
    error = {"name": "GenerationError", "message": "No face was detected in the video."}
    client, _ = aimlapi(answer({"id": GEN, "status": "error", "error": error}))
    status = client.poll(handle(GEN))
    assert status.state is JobState.FAILED
    assert (status.error.message, status.error.code) == (error["message"], error["name"])


def test_the_submit_cost_headers_survive_a_json_round_trip():
    client, _ = aimlapi(answer({"id": GEN, "status": "queued"}, headers=COST))
    job = submit(client)
    resumed = JobHandle.from_json(job.to_json())
    assert resumed == job
    assert dict(resumed.resume) == {"credits_used": "2000000", "usd_spent": "1.000000000"}
    worker, _ = aimlapi(answer(completed(meta={"usage": {"credits_used": 5}}), headers=FREE))
    result = worker.wait(resumed)
    assert result.video_url == DONE_URL
    assert result.billed == BilledUsage(
        amount=Decimal("2000000"), unit="credits", usd=Decimal("1.000000000")
    )


def test_a_charge_in_the_poll_headers_is_preferred():
    client, _ = aimlapi(answer({"id": GEN, "status": "queued"}, headers=COST))
    job = submit(client)
    later = {"x-aimlapi-credits-used": "2480", "x-aimlapi-usd-spent": "0.001240000"}
    worker, _ = aimlapi(answer(completed(), headers=later))
    billed = worker.wait(job).billed
    assert billed == BilledUsage(amount=Decimal("2480"), unit="credits", usd=Decimal("0.00124"))


def test_without_cost_headers_the_body_credits_are_billed_without_usd():
    client, _ = aimlapi(
        answer({"id": GEN, "status": "queued", "meta": {"usage": {"credits_used": 120000}}})
    )
    job = submit(client)
    worker, _ = aimlapi(answer(completed()))
    assert worker.wait(job).billed == BilledUsage(amount=Decimal(120000), unit="credits")


def test_garbled_cost_headers_are_ignored():
    garbled = {"x-aimlapi-credits-used": "lots", "x-aimlapi-usd-spent": "NaN"}
    client, _ = aimlapi(answer({"id": GEN, "status": "queued"}, headers=garbled))
    job = submit(client)
    assert dict(job.resume) == {}
    worker, _ = aimlapi(answer(completed(meta={"usage": {"credits_used": -3}})))
    assert worker.wait(job).billed is None
