"""How the fal.ai plugin speaks the queue: URLs followed and re-based, the result read in
the poll that sees COMPLETED, errors through the result and around it, cancels, and the
prices of the model pages, exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from lipbridge import (
    AuthenticationError,
    Client,
    InsufficientCredits,
    JobHandle,
    JobNotFound,
    JobRequest,
    JobState,
    ProviderUnavailable,
    RateLimited,
    SubmitOutcomeUnknown,
)
from lipbridge_contract.testing import answer, scripted_client

fal = partial(scripted_client, "fal")  # (client, transport) answered in turn

RID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
BASE = f"https://queue.fal.run/fal-ai/sync-lipsync/requests/{RID}"
VIDEO = "https://example.com/face.mp4"
AUDIO = "https://example.com/speech.wav"
OUT = "https://v3.fal.media/files/penguin/output.mp4"


def handle(**resume: str) -> JobHandle:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return JobHandle(
        provider="fal", job_id=RID, created_at=when, model="sync-lipsync-v2", resume=resume
    )


def submitted(host: str = "https://queue.fal.run") -> dict[str, Any]:
    base = f"{host}/fal-ai/sync-lipsync/requests/{RID}"
    return {
        "status": "IN_QUEUE",
        "request_id": RID,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
        "queue_position": 0,
    }


def test_submit_sends_the_input_and_keeps_the_urls_it_was_given() -> None:
    client, transport = fal(answer(submitted("https://queue.falrun.com")))
    request = JobRequest(
        video=VIDEO,
        audio=AUDIO,
        sync_mode="loop",
        options={"model": "lipsync-2-pro"},
    )
    got = client.submit("fal", request)
    sent = transport.sent[0]
    assert sent.url == "https://queue.fal.run/fal-ai/sync-lipsync/v2"
    assert {k.lower(): v for k, v in sent.headers.items()}["authorization"].startswith("Key ")
    assert sent.body == (
        b'{"video_url":"https://example.com/face.mp4","audio_url":"https://example.com/'
        b'speech.wav","sync_mode":"loop","model":"lipsync-2-pro"}'
    )
    assert got.job_id == RID and got.resume["status_url"].startswith("https://queue.falrun.com/")


def test_latentsync_spells_bounce_pingpong() -> None:
    client, transport = fal(answer(submitted()))
    client.submit(
        "fal", JobRequest(video=VIDEO, audio=AUDIO, model="latentsync", sync_mode="bounce")
    )
    assert transport.sent[0].url.endswith("/fal-ai/latentsync")
    assert b'"loop_mode":"pingpong"' in (transport.sent[0].body or b"")


def test_a_foreign_url_in_the_submit_answer_is_refused() -> None:
    client, _ = fal(answer(submitted("https://evil.example")))
    with pytest.raises(SubmitOutcomeUnknown, match="handed back"):  # the request exists
        client.submit("fal", JobRequest(video=VIDEO, audio=AUDIO))


def test_the_backup_host_is_followed_on_the_configured_base_url() -> None:
    client, transport = fal(
        answer({"status": "IN_QUEUE", "queue_position": 2}, 202),
        settings={"base_url": "http://127.0.0.1:9/"},
        environ={"LIPBRIDGE_FAL_BASE_URL": "http://127.0.0.1:9/"},
    )
    status = client.poll(
        handle(status_url=f"https://queue.falrun.com/fal-ai/sync-lipsync/requests/{RID}/status")
    )
    assert (
        transport.sent[0].url
        == f"http://127.0.0.1:9/fal-ai/sync-lipsync/requests/{RID}/status?logs=1"
    )
    assert (status.state, status.queue_position) == (JobState.QUEUED, 2)


def test_a_bare_request_id_is_followed_under_owner_and_app() -> None:
    logs = [{"message": "INFO: step 1", "level": "INFO"}, {"message": "INFO: step 2"}]
    client, transport = fal(answer({"status": "IN_PROGRESS", "logs": logs}, 202))
    status = client.poll(handle())
    assert transport.sent[0].url == f"{BASE}/status?logs=1"
    assert (status.state, status.logs) == (JobState.RUNNING, ("INFO: step 1", "INFO: step 2"))


def test_completed_reads_the_result_in_the_same_poll() -> None:
    client, transport = fal(answer({"status": "COMPLETED"}), answer({"video": {"url": OUT}}))
    status = client.poll(handle())
    assert [s.url for s in transport.sent] == [f"{BASE}/status?logs=1", BASE]
    assert status.state is JobState.SUCCEEDED and status.result is not None
    assert status.result.video_url == OUT


def test_a_422_result_is_the_jobs_failure_with_its_message() -> None:
    detail = [
        {"loc": ["body", "video_url"], "msg": "File download error", "type": "file_download_error"}
    ]
    client, _ = fal(answer({"status": "COMPLETED"}), answer({"detail": detail}, 422))
    status = client.poll(handle())
    assert status.state is JobState.FAILED and status.error is not None
    assert status.error.phase == "result" and status.error.code == "file_download_error"
    assert "video_url: File download error" in status.error.message


def test_a_5xx_model_error_is_the_jobs_failure() -> None:
    detail = [{"loc": ["body"], "msg": "Generation timed out", "type": "generation_timeout"}]
    client, _ = fal(answer({"status": "COMPLETED"}), answer({"detail": detail}, 504))
    status = client.poll(handle())
    assert status.state is JobState.FAILED and status.error is not None
    assert status.error.code == "generation_timeout"


def test_a_499_result_is_the_cancel_confirmed() -> None:
    body = {"detail": "The request was cancelled by the client", "error_type": "client_cancelled"}
    client, _ = fal(answer({"status": "COMPLETED"}), answer(body, 499))
    status = client.poll(handle())
    assert status.state is JobState.CANCELLED and status.error is not None
    assert status.error.code == "client_cancelled"


@pytest.mark.parametrize(
    ("code", "body", "error"),
    [
        (500, {"detail": "Internal error", "error_type": "internal_error"}, ProviderUnavailable),
        (502, b"<html>Bad gateway</html>", ProviderUnavailable),
        (401, {"detail": "No user found for Key ID and Secret"}, AuthenticationError),
        (
            403,
            {"detail": "User is locked. Reason: Admin lock. Please contact support@fal.ai"},
            AuthenticationError,
        ),
        (
            403,
            {"detail": "User is locked. Reason: Exhausted balance. Top up your balance"},
            InsufficientCredits,
        ),
        (404, {"detail": "Not found"}, JobNotFound),
        (410, {"detail": "Gone"}, JobNotFound),
    ],
)
def test_a_result_refused_for_the_account_or_gone_raises(
    code: int, body: object, error: type[Exception]
) -> None:
    client, _ = fal(answer({"status": "COMPLETED"}), answer(body, code))
    with pytest.raises(error) as raised:
        client.poll(handle())
    if code in (404, 410):
        assert "1 hour" in str(raised.value)


def test_a_429_with_retry_after_is_rate_limited() -> None:
    client, _ = fal(answer({"detail": "Rate limit exceeded"}, 429, {"Retry-After": "30"}))
    with pytest.raises(RateLimited) as raised:
        client.submit("fal", JobRequest(video=VIDEO, audio=AUDIO))
    assert raised.value.retry_after == 30


@pytest.mark.parametrize(("word"), ["CANCELLATION_REQUESTED", "OK"])
def test_an_accepted_cancel_is_cancelling(word: str) -> None:
    client, transport = fal(answer({"status": word}, 202))
    status = client.cancel(handle())
    assert (transport.sent[0].method, transport.sent[0].url) == ("PUT", f"{BASE}/cancel")
    assert (status.state, status.raw_status) == (JobState.CANCELLING, word)


def test_a_cancel_after_completion_returns_the_requests_status() -> None:
    client, transport = fal(
        answer({"status": "ALREADY_COMPLETED"}, 400),
        answer({"status": "COMPLETED"}),
        answer({"video": {"url": OUT}}),
    )
    assert client.cancel(handle()).state is JobState.SUCCEEDED
    assert [s.method for s in transport.sent] == ["PUT", "GET", "GET"]


@pytest.mark.parametrize(
    ("model", "options", "video", "audio", "usd"),
    [
        ("sync-lipsync-v2", {}, 10, 6, "0.3000"),  # cut_off: 6 s at $3/min
        ("sync-lipsync-v2", {"model": "lipsync-2-pro"}, 10, 6, "0.5010"),  # x1.67
        ("sync-lipsync-v2-pro", {}, 10, 6, "0.5010"),
        ("latentsync", {}, 10, 30, "0.2000"),  # the minimum, up to 40 s
        ("latentsync", {}, 10, 60, "0.3000"),  # loop: 60 s at $0.005
        ("kling-lipsync", {}, 3, 30, "0.0700"),  # 3 s of input video bills 5 s
        ("kling-lipsync", {}, 6, 30, "0.1400"),
    ],
)
def test_prices(model: str, options: dict[str, str], video: float, audio: float, usd: str) -> None:
    mode = "loop" if model == "latentsync" else None
    request = JobRequest(video=VIDEO, audio=AUDIO, model=model, sync_mode=mode, options=options)
    estimate = Client(environ={}, ledger=False).estimate_cost(
        "fal", request, video_seconds=video, audio_seconds=audio
    )
    assert (estimate.amount, estimate.unit, estimate.usd) == (Decimal(usd), "USD", Decimal(usd))


def test_latentsync_without_a_loop_mode_is_unknown() -> None:
    request = JobRequest(video=VIDEO, audio=AUDIO, model="latentsync")
    estimate = Client(environ={}, ledger=False).estimate_cost(
        "fal", request, video_seconds=10, audio_seconds=30
    )
    assert estimate.amount is None and estimate.unknown_reason
