"""The gateway's shared mechanics, on a reseller declared here (no installed plugin needed).

What the contract suite does not pin: the ``request_fields`` switch and its error, refusals
before any request, the expiry rule, code-versus-type, the ``output.url`` fallback and the
``completed`` race, on inputs the documented examples do not cover.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from lipbridge import (
    AuthenticationError,
    BilledUsage,
    Client,
    ConfigurationError,
    InsufficientCredits,
    InvalidRequest,
    JobHandle,
    JobNotFound,
    JobRequest,
    JobState,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Registry,
    RequestRejected,
    SubmitOutcomeUnknown,
    UnsupportedOption,
)
from lipbridge.context import EPOCH
from lipbridge.plugin import PriceTable, Response
from lipbridge_contract.harness import ScriptedTransport
from lipbridge_contract.harness import SteppedClock as VirtualClock
from lipbridge_gateway import Gateway, sync_lipsync_models

NAME = "testgate"
BASE = "https://api.testgate.invalid"
VIDEO, AUDIO = "https://media.testgate.invalid/face.mp4", "https://media.testgate.invalid/v.wav"
KEY = "test-key-testgate-0123456789abcdef"
CREATED = 1757165031  # 2025-09-06T13:23:51Z, the docs' example
RESELLER = Gateway(
    name=NAME,
    display_name="Test Gateway",
    docs_url="https://docs.testgate.invalid/lipsync",
    base_url=BASE,
    models=sync_lipsync_models(callback=False),
    api_key_env=("TESTGATE_API_KEY",),
    prices=PriceTable(
        provider=NAME,
        unit="credits",
        rates={},
        source_url="https://docs.testgate.invalid/pricing",
        as_of=dt.date(2026, 11, 21),
        version="2026-11-21",
    ),
)


def answer(status: int, body: Any, **headers: str) -> Response:
    return Response(
        method="GET", url=BASE, status=status, headers=headers, body=json.dumps(body).encode()
    )


def accepted(job_id: str = "task-unified-1757165031-a1b2c3d4") -> Response:
    return answer(200, {"id": job_id, "status": "pending", "created": CREATED})


def task(status: str, **fields: Any) -> Response:
    return answer(200, {"id": "t", "status": status, "created": CREATED, **fields})


def client(
    *responses: Response,
    settings: dict[str, str] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[Client, ScriptedTransport]:
    registry = Registry(candidates=[], environ={})
    registry.register(NAME, RESELLER)
    transport = ScriptedTransport(responses)
    return Client(
        registry=registry,
        transport=transport,
        clock=VirtualClock(),
        api_keys={NAME: KEY},
        settings={NAME: settings or {}},
        environ=environ or {},
    ), transport


def sent_body(transport: ScriptedTransport, index: int = 0) -> dict[str, Any]:
    body = transport.sent[index].body
    assert body is not None
    decoded: dict[str, Any] = json.loads(body)
    return decoded


def handle(job_id: str = "t") -> JobHandle:
    return JobHandle(provider=NAME, job_id=job_id, created_at=EPOCH, model="lipsync-2")


# --- the request_fields switch ---------------------------------------------------------------


def test_default_revision_sends_video_url_and_audio_url() -> None:
    c, transport = client(accepted())
    c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    assert sent_body(transport) == {"model": "lipsync-2", "video_url": VIDEO, "audio_url": AUDIO}
    assert transport.sent[0].url == f"{BASE}/v1/videos/generations"
    assert transport.sent[0].headers["Authorization"] == f"Bearer {KEY}"


def test_setting_video_sends_the_original_field_names() -> None:
    c, transport = client(accepted(), settings={"request_fields": "video"})
    c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO, temperature=0.5, active_speaker=False))
    assert sent_body(transport) == {
        "model": "lipsync-2",
        "video": VIDEO,
        "audio": AUDIO,
        "temperature": 0.5,
        "active_speaker": False,
    }


def test_setting_comes_from_the_environment_too() -> None:
    c, transport = client(accepted(), environ={"LIPBRIDGE_TESTGATE_REQUEST_FIELDS": "video"})
    c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    assert set(sent_body(transport)) == {"model", "video", "audio"}


def test_unknown_revision_is_a_configuration_error_before_any_request() -> None:
    c, transport = client(accepted(), settings={"request_fields": "video_uri"})
    with pytest.raises(ConfigurationError) as caught:
        c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    message = str(caught.value)
    assert "request_fields='video_uri'" in message
    assert "LIPBRIDGE_TESTGATE_REQUEST_FIELDS" in message
    assert "allowed: video_url, video" in message
    assert transport.sent == []


def test_estimate_does_not_depend_on_the_revision() -> None:
    c, transport = client(settings={"request_fields": "bogus"})
    estimate = c.estimate_cost(NAME, JobRequest(video=VIDEO, audio=AUDIO), audio_seconds=12.0)
    assert not estimate.known
    assert estimate.unknown_reason == (
        "no published price for lipsync-2 in https://docs.testgate.invalid/pricing "
        "(as of 2026-11-21)"
    )
    assert transport.sent == []


@pytest.mark.parametrize("key", ["video", "video_url", "audio", "audio_url", "temperature"])
def test_options_cannot_set_either_revisions_fields(key: str) -> None:
    c, transport = client(accepted())
    with pytest.raises(InvalidRequest, match=f"options may not set {key}"):
        c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO, options={key: "x"}))
    assert transport.sent == []


def test_other_native_fields_pass_through_options() -> None:
    c, transport = client(accepted())
    c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO, options={"ref_image_url": "https://i"}))
    assert sent_body(transport)["ref_image_url"] == "https://i"


# --- refusals before any request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "request_"),
    [
        ("temperature", JobRequest(video=VIDEO, audio=AUDIO, model="sync-3", temperature=0.5)),
        (
            "active_speaker",
            JobRequest(video=VIDEO, audio=AUDIO, model="sync-3", active_speaker=True),
        ),
        ("callback_url", JobRequest(video=VIDEO, audio=AUDIO, callback_url="https://h.invalid/cb")),
    ],
)
def test_unsupported_options_are_refused_with_zero_requests(
    field: str, request_: JobRequest
) -> None:
    c, transport = client(accepted())
    with pytest.raises(UnsupportedOption) as caught:
        c.submit(NAME, request_)
    assert caught.value.field == field
    assert "allowed" in str(caught.value)
    with pytest.raises(UnsupportedOption):
        c.estimate_cost(NAME, request_, audio_seconds=5.0)
    assert transport.sent == []


def test_sync3_without_the_expressive_options_is_sent() -> None:
    c, transport = client(accepted())
    c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO, model="sync-3", sync_mode="remap"))
    assert sent_body(transport) == {
        "model": "sync-3",
        "video_url": VIDEO,
        "audio_url": AUDIO,
        "sync_mode": "remap",
    }


# --- polling ---------------------------------------------------------------------------------


def test_poll_escapes_the_task_id() -> None:
    c, transport = client(task("pending"))
    c.poll(handle("../v1/account credits?x=1"))
    assert transport.sent[0].url == f"{BASE}/v1/tasks/..%2Fv1%2Faccount%20credits%3Fx%3D1"


def test_result_url_falls_back_to_the_older_output_url() -> None:
    c, _ = client(task("completed", results=None, output={"url": "https://cdn.invalid/old.mp4"}))
    status = c.poll(handle())
    assert status.result is not None
    assert status.result.video_url == "https://cdn.invalid/old.mp4"


def test_results_win_over_output() -> None:
    c, _ = client(
        task(
            "completed",
            results=[{"url": "https://cdn.invalid/new.mp4"}],
            output={"url": "https://cdn.invalid/old.mp4"},
        )
    )
    status = c.poll(handle())
    assert status.result is not None
    assert status.result.video_url == "https://cdn.invalid/new.mp4"


@pytest.mark.parametrize("results", [None, [], [{}], [{"url": ""}], "https://x"])
def test_completed_without_a_url_is_still_running(results: object) -> None:
    c, _ = client(task("completed", progress=95, results=results))
    status = c.poll(handle())
    assert (status.state, status.raw_status, status.progress) == (
        JobState.RUNNING,
        "completed",
        95,
    )
    assert status.result is None


def test_expiry_is_24_hours_after_the_task_was_created() -> None:
    c, _ = client(task("completed", results=[{"url": "https://cdn.invalid/o.mp4"}]))
    status = c.poll(handle())
    assert status.result is not None
    assert status.result.expires_at == dt.datetime(2025, 9, 7, 13, 23, 51, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("created", [None, "1757165031", True, -1, 1e300, float("nan")])
def test_expiry_without_a_usable_created_time_is_24_hours_from_now(created: object) -> None:
    body: dict[str, object] = {"id": "t", "status": "completed"}
    body["results"] = [{"url": "https://cdn.invalid/o.mp4"}]
    if created is not None:
        body["created"] = created
    c, _ = client(
        Response(method="GET", url=BASE, status=200, headers={}, body=json.dumps(body).encode())
    )
    status = c.poll(handle())
    assert status.result is not None
    assert status.result.expires_at == EPOCH + dt.timedelta(hours=24)  # the virtual clock's now


@pytest.mark.parametrize(
    ("usage", "billed"),
    [
        (
            {"credits_reserved": 123, "user_group": "default"},
            BilledUsage(amount=Decimal("123"), unit="reserved credits"),
        ),
        ({"credits_reserved": 2.5}, BilledUsage(amount=Decimal("2.5"), unit="reserved credits")),
        ({"credits_reserved": "5"}, None),
        (None, None),
    ],
)
def test_billed_reserved_credits(usage: object, billed: BilledUsage | None) -> None:
    c, _ = client(task("completed", results=[{"url": "https://cdn.invalid/o.mp4"}], usage=usage))
    status = c.poll(handle())
    assert status.result is not None
    assert status.result.billed == billed
    assert status.result.billed is None or status.result.billed.usd is None  # no USD rate known


@pytest.mark.parametrize(
    ("error", "message", "code"),
    [
        (
            {"code": "generation_failed", "message": "no face", "type": "task_error"},
            "no face",
            "generation_failed",
        ),
        ({"message": "no face", "type": "task_error"}, "no face", "task_error"),
        (None, "the task ended failed with no message", None),
        ("broken", "the task ended failed with no message", None),
    ],
)
def test_failed_task_error_code_falls_back_to_type(
    error: object, message: str, code: str | None
) -> None:
    c, _ = client(task("failed", error=error))
    status = c.poll(handle())
    assert status.state is JobState.FAILED
    assert status.error is not None
    assert (status.error.message, status.error.code) == (message, code)


def test_cancelled_task_is_cancelled() -> None:
    c, _ = client(task("cancelled", error=None))
    status = c.poll(handle())
    assert (status.state, status.error) == (JobState.CANCELLED, None)


# --- HTTP errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "cls"),
    [
        (400, "invalid_request_error", RequestRejected),
        (401, "authentication_error", AuthenticationError),
        (402, "insufficient_quota", InsufficientCredits),
        (404, "not_found", JobNotFound),
        (422, "validation_error", RequestRejected),
        (429, "rate_limit_error", RateLimited),
        (500, "server_error", ProviderUnavailable),
        (503, "service_unavailable_error", ProviderUnavailable),
    ],
)
def test_poll_errors_map_by_status_with_the_type_as_code(
    status: int, error_type: str, cls: type[ProviderError]
) -> None:
    body = {"error": {"message": "documented wording", "type": error_type}}
    c, transport = client(answer(status, body, **{"retry-after": "200"}))
    with pytest.raises(cls) as caught:
        c.poll(handle())
    assert type(caught.value) is cls
    assert caught.value.code == error_type
    assert "documented wording" in str(caught.value)
    assert len(transport.sent) == 1  # a 200 s Retry-After is too long to wait within a call


def test_envelope_code_wins_over_type() -> None:
    body = {"error": {"code": "model_not_found", "message": "m", "type": "invalid_request_error"}}
    c, _ = client(answer(422, body))
    with pytest.raises(RequestRejected) as caught:
        c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    assert caught.value.code == "model_not_found"


def test_numeric_envelope_code_is_text() -> None:
    body = {"error": {"code": 40001, "message": "m", "type": "invalid_request_error"}}
    c, _ = client(answer(400, body))
    with pytest.raises(RequestRejected) as caught:
        c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    assert caught.value.code == "40001"


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"{", b"", b"[1]"])
def test_non_envelope_error_bodies_still_map_by_status(body: bytes) -> None:
    c, _ = client(Response(method="GET", url=BASE, status=401, headers={}, body=body))
    with pytest.raises(AuthenticationError) as caught:
        c.poll(handle())
    assert caught.value.code is None


def test_a_500_to_a_submit_is_an_unknown_outcome() -> None:
    c, transport = client(answer(500, {"error": {"message": "m", "type": "server_error"}}))
    with pytest.raises(SubmitOutcomeUnknown):
        c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    assert len(transport.sent) == 1  # never resubmitted: the task may exist


def test_rate_limited_submit_keeps_retry_after() -> None:
    body = {"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}}
    c, transport = client(answer(429, body, **{"retry-after": "30"}))
    with pytest.raises(RateLimited) as caught:
        c.submit(NAME, JobRequest(video=VIDEO, audio=AUDIO))
    assert caught.value.retry_after == 30.0
    assert len(transport.sent) == 1
