"""fal.ai end to end: the plugin and the real Client against the emulator's fal queue.

Queue positions and logs while a request waits and runs, the result read in the poll
that sees COMPLETED, a failure that arrives through the result (COMPLETED, then 422),
cancels (CANCELLATION_REQUESTED, then COMPLETED with a 499 result; ALREADY_COMPLETED)
and the account's errors. Time is virtual: nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated import LONG, SHORT, Emulated, emulated

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    JobCancelled,
    JobFailed,
    JobRequest,
    JobState,
    JobStatus,
)
from lipbridge_emulator.dialects.fal import FalDialect

REFUSED_HOST = "https://media.invalid/face.mp4"  # the emulator fetches only from itself


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


def test_a_request_queues_runs_and_completes_with_its_log(env: Emulated, tmp_path: Path) -> None:
    seen: list[JobStatus] = []
    with env.client("fal") as client:
        handle = client.submit("fal", request_for(env, options={"model": "lipsync-2-pro"}))
        behind = client.submit("fal", request_for(env))
        assert client.poll(behind).queue_position == 1  # one request ahead of it
        result = client.wait(handle, on_progress=seen.append)
        client.download(result, tmp_path / "out.mp4")
    states = [s.state for s in seen]
    assert states[0] is JobState.QUEUED and states[-1] is JobState.SUCCEEDED
    assert seen[0].queue_position == 0 and seen[0].raw_status == "IN_QUEUE"
    running = [s for s in seen if s.state is JobState.RUNNING]
    assert running and running[0].logs[0] == "Downloading inputs"
    assert seen[-1].raw_status == "COMPLETED" and seen[-1].logs[-1] == "Uploading output"
    assert (tmp_path / "out.mp4").stat().st_size > 0
    # Every follow-up went to the URLs the submit answered: status with logs, then result.
    polls = [a.path for a in env.emu.ledger.arrivals if a.endpoint == "poll"]
    assert f"/fal/fal-ai/sync-lipsync/requests/{handle.job_id}" in polls
    assert all("/fal-ai/sync-lipsync/requests/" in p for p in polls)


def test_a_request_whose_input_cannot_be_fetched_fails_through_its_result(
    env: Emulated,
) -> None:
    with env.client("fal") as client:
        handle = client.submit("fal", request_for(env, video=REFUSED_HOST))
        with pytest.raises(JobFailed) as failed:
            client.wait(handle)
        status = client.poll(handle)
    assert status.raw_status == "COMPLETED" and status.state is JobState.FAILED
    assert status.error is not None and status.error.phase == "result"
    assert status.error.code == "file_download_error" and "video_url" in status.error.message
    assert failed.value.code == "file_download_error"


def test_latentsync_and_kling_run(env: Emulated) -> None:
    with env.client("fal") as client:
        for request in (
            request_for(env, model="latentsync", sync_mode="bounce"),
            request_for(env, model="kling-lipsync"),
        ):
            assert client.wait(client.submit("fal", request)).video_url
    models = [j.spec.model for j in env.emu.jobs("fal")][-2:]
    assert models == ["fal-ai/latentsync", "fal-ai/kling-video/lipsync/audio-to-video"]


def test_a_cancelled_request_is_cancelling_then_cancelled(env: Emulated) -> None:
    with env.client("fal") as client:
        handle = client.submit("fal", request_for(env))
        status = client.cancel(handle)
        assert (status.state, status.raw_status) == (JobState.CANCELLING, "CANCELLATION_REQUESTED")
        with pytest.raises(JobCancelled) as cancelled:
            client.wait(handle)
        after = client.poll(handle)
    assert (after.state, after.raw_status) == (JobState.CANCELLED, "COMPLETED")
    assert after.error is not None and after.error.code == "client_cancelled"
    assert cancelled.value.code == "client_cancelled"
    assert [a.method for a in env.emu.ledger.arrivals if a.endpoint == "cancel"][-1:] == ["PUT"]


def test_a_completed_request_stays_completed_when_cancelled(env: Emulated) -> None:
    with env.client("fal") as client:
        handle = client.submit("fal", request_for(env))
        client.wait(handle)
        assert client.cancel(handle).state is JobState.SUCCEEDED
    cancels = [a for a in env.emu.ledger.arrivals if a.endpoint == "cancel"]
    assert cancels[-1].status == 400  # ALREADY_COMPLETED


def test_a_wrong_key_and_an_empty_balance(env: Emulated) -> None:
    with env.client("fal", key="nope:nope") as client, pytest.raises(AuthenticationError):
        client.submit("fal", request_for(env))
    with (
        emulated(credits={"fal": 0}) as broke,
        broke.client("fal") as poor,
        pytest.raises(InsufficientCredits, match="Exhausted balance"),
    ):
        poor.submit("fal", request_for(broke))


def test_the_dialect_refuses_an_unknown_sync_mode_with_a_model_error() -> None:
    from lipbridge_emulator.dialect import Request

    body = b'{"video_url": "https://a.example/v.mp4", "audio_url": "https://a.example/a.wav",'
    request = Request(method="POST", path="/fal-ai/latentsync", body=body + b' "loop_mode": "x"}')
    reply = FalDialect().parse_submit(request)
    assert not isinstance(reply, type(None)) and getattr(reply, "status", None) == 422
    assert b'"loc": ["body", "loop_mode"]' in getattr(reply, "body", b"")
