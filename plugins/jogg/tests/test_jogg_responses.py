"""How the JoggAI plugin reads answers: business codes (under any HTTP status), HTTP-only
errors, and task statuses."""

from __future__ import annotations

import datetime as dt
from functools import partial

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
from lipbridge_contract.testing import answer, scripted_client

jogg = partial(scripted_client, "jogg")  # (client, transport) answered in turn


TASK = "3d5c6930-d0da-4f7b-826e-cd1530f6734f"
VIDEO = "https://res.jogg.ai/source-video.mp4"
AUDIO = "https://res.jogg.ai/source-audio.wav"

# Every documented non-zero code, its documented message, and the class it must raise.
CODES = [
    (429, "Rate limit exceeded. Please try again later.", RateLimited),
    (10104, "Record not found", JobNotFound),
    (10105, "Invalid API key", AuthenticationError),
    (18020, "Insufficient credit", InsufficientCredits),
    (18025, "No permission to call APIs", AuthenticationError),
    (40000, "Parameter error", RequestRejected),
    (50000, "System error", ProviderUnavailable),
]


def handle() -> JobHandle:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return JobHandle(provider="jogg", job_id=TASK, created_at=when, model="lipsync")


def task(status, **fields):
    return {"code": 0, "msg": "Success", "data": {"task_id": TASK, "status": status, **fields}}


@pytest.mark.parametrize(("code", "msg", "cls"), CODES, ids=[str(c[0]) for c in CODES])
@pytest.mark.parametrize("http", [200, 400, 401, 404, 503])
def test_business_code_decides_on_poll_whatever_the_http_status(code, msg, cls, http):
    client, _ = jogg(answer({"code": code, "msg": msg, "data": None}, status=http))
    with pytest.raises(ProviderError) as caught:
        client.poll(handle())
    assert type(caught.value) is cls
    assert caught.value.code == str(code)
    assert caught.value.http_status == http
    assert msg in caught.value.message
    assert caught.value.job_id == TASK


@pytest.mark.parametrize(("code", "msg", "cls"), CODES, ids=[str(c[0]) for c in CODES])
def test_business_code_under_http_200_on_submit(code, msg, cls):
    client, transport = jogg(answer({"code": code, "msg": msg, "data": None}))
    with pytest.raises(ProviderError) as caught:
        client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO))
    assert type(caught.value) is cls  # an explicit refusal, not SubmitOutcomeUnknown
    assert caught.value.code == str(code)
    assert len(transport.sent) == 1


def test_retry_after_is_read_for_a_rate_limit_code_under_http_200():
    body = {"code": 429, "msg": "Rate limit exceeded. Please try again later.", "data": None}
    client, _ = jogg(answer(body, headers={"retry-after": "42"}))
    with pytest.raises(RateLimited) as caught:
        client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO))
    assert caught.value.retry_after == 42


def test_unknown_code_under_http_200_is_a_plain_provider_error():
    client, _ = jogg(answer({"code": 12345, "msg": "Something new", "data": None}))
    with pytest.raises(ProviderError) as caught:
        client.poll(handle())
    assert type(caught.value) is ProviderError
    assert caught.value.code == "12345"
    assert "Something new" in caught.value.message


def test_unknown_code_under_an_http_error_keeps_the_status_class():
    client, _ = jogg(answer({"code": 12345, "msg": "Overloaded", "data": None}, status=503))
    with pytest.raises(ProviderUnavailable) as caught:
        client.poll(handle())
    assert caught.value.code == "12345"


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls"),
    [
        (401, b"", {}, AuthenticationError),
        (404, b"<html>Not Found</html>", {}, JobNotFound),
        (429, b"", {"retry-after": "7"}, RateLimited),
        (503, b"<html>Service Unavailable</html>", {}, ProviderUnavailable),
        (503, b'{"code":0,"msg":"Success","data":null}', {}, ProviderUnavailable),
    ],
    ids=["401-empty", "404-html", "429-empty", "503-html", "503-code-0"],
)
def test_http_status_decides_without_a_business_code(status, body, headers, cls):
    client, _ = jogg(answer(body, status=status, headers=headers))
    with pytest.raises(cls) as caught:
        client.poll(handle())
    assert caught.value.http_status == status
    if cls is RateLimited:
        assert caught.value.retry_after == 7


@pytest.mark.parametrize(
    "body",
    [
        {"msg": "Success", "data": {"task_id": TASK, "status": "pending"}},
        {"code": "0", "msg": "Success", "data": {"task_id": TASK, "status": "pending"}},
        {"code": True, "msg": "Success", "data": {"task_id": TASK, "status": "pending"}},
        {"code": 0, "msg": "Success", "data": None},
        {"code": 0, "msg": "Success", "data": {"task_id": TASK}},
        [1, 2],
        b"not json",
    ],
    ids=["no-code", "string-code", "bool-code", "no-data", "no-status", "array", "not-json"],
)
def test_unreadable_poll_answers_are_protocol_errors(body):
    client, _ = jogg(answer(body))
    with pytest.raises(ProviderProtocolError):
        client.poll(handle())


def test_accepted_submit_without_task_id_is_an_unknown_outcome():
    client, _ = jogg(answer({"code": 0, "msg": "Success", "data": {"status": "pending"}}))
    with pytest.raises(SubmitOutcomeUnknown):
        client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO))


@pytest.mark.parametrize(
    ("word", "state"),
    [("pending", JobState.QUEUED), ("processing", JobState.RUNNING)],
)
def test_unfinished_statuses(word, state):
    client, _ = jogg(answer(task(word, data={"result_url": "", "cover_url": ""})))
    status = client.poll(handle())
    assert (status.state, status.raw_status) == (state, word)
    assert (status.result, status.error) == (None, None)


def test_success_reads_the_result_and_ignores_the_example_error():
    body = task(
        "success",
        data={
            "result_url": "https://res.jogg.ai/lipsync-result.mp4",
            "cover_url": "https://res.jogg.ai/lipsync-cover.jpg",
            "duration_seconds": 12.5,
        },
        error={"message": "consume retry limit reached: audio duration fetch failed"},
    )
    client, _ = jogg(answer(body))
    status = client.poll(handle())
    assert status.state is JobState.SUCCEEDED
    assert status.error is None
    assert status.result is not None
    assert status.result.video_url == "https://res.jogg.ai/lipsync-result.mp4"
    assert status.result.cover_url == "https://res.jogg.ai/lipsync-cover.jpg"
    assert status.result.duration_seconds == 12.5
    assert status.result.expires_at is None  # JoggAI documents no URL lifetime


def test_success_with_odd_optional_fields_keeps_the_url():
    odd = {"result_url": "https://res.jogg.ai/r.mp4", "cover_url": 3, "duration_seconds": "12.5"}
    body = task("success", data=odd)
    client, _ = jogg(answer(body))
    result = client.poll(handle()).result
    assert result is not None
    assert result.video_url == "https://res.jogg.ai/r.mp4"
    assert (result.cover_url, result.duration_seconds) == (None, None)


@pytest.mark.parametrize("data", [None, {}, {"result_url": ""}, {"result_url": None}])
def test_success_without_a_result_yet_is_still_running(data):
    client, _ = jogg(answer(task("success", data=data)))
    status = client.poll(handle())
    assert (status.state, status.raw_status, status.result) == (JobState.RUNNING, "success", None)


def test_failed_carries_the_documented_message():
    message = "consume retry limit reached: audio duration fetch failed"
    client, _ = jogg(answer(task("failed", error={"message": message})))
    status = client.poll(handle())
    assert status.state is JobState.FAILED
    assert status.error is not None
    assert (status.error.message, status.error.code) == (message, None)


@pytest.mark.parametrize("error", [None, {}, {"message": ""}, "boom"])
def test_failed_without_a_message_still_explains(error):
    client, _ = jogg(answer(task("failed", error=error)))
    status = client.poll(handle())
    assert status.state is JobState.FAILED
    assert status.error is not None
    assert status.error.message == "the task ended failed with no message"
