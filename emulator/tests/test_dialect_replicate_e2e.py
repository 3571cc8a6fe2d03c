"""Replicate end to end: the plugin and the real Client against the emulator's Replicate.

Official and community models (the version picked with ``model@version``), logs, cancels
(at once while starting; accepted, then confirmed, while processing), GPU-second bills
against the compute-time estimate, outputs gone an hour after completion, Standard
Webhooks signatures and local files through the files API. Time is virtual: nothing
sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from emulated import LONG, SHORT, CallbackTarget, Emulated, emulated, sample_speech, sample_video

from lipbridge import JobRequest, JobState, LipbridgeError, RequestRejected
from lipbridge.estimates import billed_problem
from lipbridge_emulator.dialect import State
from lipbridge_emulator.dialects.replicate import DEFAULT_WEBHOOK_SECRET, MODELS


def request_for(env: Emulated, **fields: object) -> JobRequest:
    chosen: dict[str, object] = {
        "video": env.videos[SHORT].url,
        "audio": env.speeches[LONG].url,
        **fields,
    }
    return JobRequest(**chosen)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    with emulated() as running:
        yield running


def test_an_official_model_runs_with_logs_and_an_hour_to_download(
    env: Emulated, tmp_path: Path
) -> None:
    with env.client("replicate") as client:
        seen: list[tuple[JobState, tuple[str, ...]]] = []
        handle = client.submit("replicate", request_for(env, sync_mode="cut_off"))
        result = client.wait(handle, on_progress=lambda s: seen.append((s.state, s.logs)))
        status = client.poll(handle)
        client.download(result, tmp_path / "out.mp4")
    assert status.state is JobState.SUCCEEDED and status.raw_status == "succeeded"
    assert status.logs[0] == "Downloading inputs..." and status.logs[-1].startswith("100%")
    assert any(state is JobState.RUNNING and logs for state, logs in seen)
    [job] = [j for j in env.emu.jobs("replicate") if j.id == handle.job_id]
    assert job.spec.model == "sync/lipsync-2"
    assert result.expires_at is not None and job.completed is not None
    assert (result.expires_at - job.completed).total_seconds() == pytest.approx(3600, abs=1)
    assert result.billed is None  # an official model's prediction states no charge
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_an_output_is_gone_after_its_hour(tmp_path: Path) -> None:
    with emulated() as env, env.client("replicate") as client:
        result = client.wait(client.submit("replicate", request_for(env)))
        env.clock.sleep(3700)
        with pytest.raises(LipbridgeError):
            client.download(result, tmp_path / "late.mp4")


def test_a_community_model_bills_gpu_seconds_within_its_estimate(env: Emulated) -> None:
    request = request_for(env, model="latentsync")
    with env.client("replicate") as client:
        estimate = client.estimate_cost(
            "replicate", request, video_seconds=SHORT, audio_seconds=LONG
        )
        result = client.wait(client.submit("replicate", request))
    assert result.billed is not None and result.billed.unit == "GPU-second"
    assert Decimal(0) < result.billed.amount <= Decimal(133)
    assert billed_problem(estimate, result.billed, Decimal(0)) is None
    [sent] = [a for a in env.emu.ledger.arrivals if a.endpoint == "submit"][-1:]
    assert sent.path.endswith("/v1/predictions")


def test_model_at_version_sends_that_version(env: Emulated) -> None:
    pinned = next(m.version for m in MODELS if m.id == "bytedance/latentsync")
    with env.client("replicate") as client:
        handle = client.submit("replicate", request_for(env, model=f"latentsync@{pinned}"))
        with pytest.raises(RequestRejected) as refused:
            client.submit("replicate", request_for(env, model=f"latentsync@{'0' * 64}"))
    assert handle.model == f"latentsync@{pinned}"
    assert refused.value.http_status == 422
    assert refused.value.code == "Invalid version or not permitted"


def test_a_starting_prediction_is_cancelled_at_once(env: Emulated) -> None:
    with env.client("replicate") as client:
        handle = client.submit("replicate", request_for(env))
        status = client.cancel(handle)
        assert (status.state, status.raw_status) == (JobState.CANCELLED, "canceled")
        after = client.poll(handle)
    assert after.state is JobState.CANCELLED and after.logs == ()  # it never ran


def test_a_processing_prediction_is_cancelling_then_cancelled(env: Emulated) -> None:
    with env.client("replicate") as client:
        handle = client.submit("replicate", request_for(env))
        while client.poll(handle).state is not JobState.RUNNING:
            env.clock.sleep(1)
        status = client.cancel(handle)
        assert (status.state, status.raw_status) == (JobState.CANCELLING, "processing")
        after = client.poll(handle)
    assert (after.state, after.raw_status) == (JobState.CANCELLED, "canceled")


def test_a_cancelled_prediction_stays_cancelled_when_cancelled_again(env: Emulated) -> None:
    """Cancelled while starting, the job's run goes on inside the emulator; a second cancel
    once it would be processing answers canceled, not processing (it sent a cancelled
    job's ledger entry back to running)."""
    with env.client("replicate") as client:
        handle = client.submit("replicate", request_for(env))
        assert client.cancel(handle).state is JobState.CANCELLED
        for _ in range(60):  # virtual seconds
            [job] = [j for j in env.emu.jobs("replicate") if j.id == handle.job_id]
            if job.state is State.RUNNING:
                break
            env.clock.sleep(1)
        assert job.state is State.RUNNING
        again = client.cancel(handle)
    assert (again.state, again.raw_status) == (JobState.CANCELLED, "canceled")


def test_a_finished_prediction_stays_finished_when_cancelled(env: Emulated) -> None:
    with env.client("replicate") as client:
        handle = client.submit("replicate", request_for(env))
        client.wait(handle)
        assert client.cancel(handle).state is JobState.SUCCEEDED


def standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Standard Webhooks' verifier, written apart from the plugin and the dialect."""
    key = base64.b64decode(secret.split("_")[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert any(
        hmac.compare_digest(expected, s.partition(",")[2])
        for s in headers["webhook-signature"].split()
    )


def test_a_completed_prediction_is_posted_signed_and_the_plugin_believes_it(
    env: Emulated,
) -> None:
    secrets = {"replicate": DEFAULT_WEBHOOK_SECRET}
    with CallbackTarget() as target, env.client("replicate", webhook_secrets=secrets) as client:
        request = request_for(env, callback_url=target.url,
                              options={"webhook_events_filter": ["completed"]})
        handle = client.submit("replicate", request)
        result = client.wait(handle)
        env.settle(lambda: bool(target.snapshot()))
        (call,) = target.snapshot()
        standard_webhook(DEFAULT_WEBHOOK_SECRET, dict(call.headers), call.body)
        update = client.parse_callback("replicate", dict(call.headers), call.body)
    payload = json.loads(call.body)
    assert payload["webhook_events_filter"] == ["completed"]
    assert (update.job_id, update.status.state, update.verified) == (
        handle.job_id, JobState.SUCCEEDED, True
    )
    assert update.status.result is not None
    assert update.status.result.video_url == result.video_url


def test_local_files_go_through_the_files_api(env: Emulated, tmp_path: Path) -> None:
    video, audio = tmp_path / "face.mp4", tmp_path / "speech.wav"
    video.write_bytes(sample_video(LONG))
    audio.write_bytes(sample_speech(SHORT))
    with env.client("replicate") as client:
        handle = client.submit("replicate", JobRequest(video=str(video), audio=str(audio)))
        client.download(client.wait(handle), tmp_path / "out.mp4")
    [job] = [j for j in env.emu.jobs("replicate") if j.id == handle.job_id]
    assert job.spec.video.endswith("/face.mp4")
    assert job.spec.audio is not None and job.spec.audio.endswith("/speech.wav")
    uploads = [a for a in env.emu.ledger.arrivals if a.endpoint == "upload"][-2:]
    assert [(a.method, a.status) for a in uploads] == [("POST", 201)] * 2
