"""sync.so end to end: the plugin and the real Client against the emulator's sync.so.

* The Idempotency-Key proof (issue 16): the create's connection is reset after its body
  was read and its generation made; the core sends it again under the same key (the
  job's local id), the emulator answers with the same generation, and its ledger shows
  one generation, which completes.
* Signed webhooks, verified the way sync.so's guide verifies them.
* The concurrency limit's 429, and local files through the asset upload.

Time is virtual: nothing sleeps.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from emulated import (
    LONG,
    SHORT,
    CallbackTarget,
    Emulated,
    emulated,
    sample_speech,
    sample_video,
)

from lipbridge import JobFailed, JobRequest, JobState, RateLimited
from lipbridge.http import fingerprint
from lipbridge_emulator.dialects.syncso import DEFAULT_WEBHOOK_SECRET, SyncsoDialect
from lipbridge_emulator.faults import parse
from lipbridge_emulator.plan import FaultPlan
from lipbridge_syncso.wire import submit_body

REFUSED_HOST = "https://media.invalid/face.mp4"  # the emulator fetches only from itself


def request_for(env: Emulated, **fields: object) -> JobRequest:
    chosen: dict[str, object] = {
        "video": env.videos[SHORT].url,
        "audio": env.speeches[LONG].url,
        "sync_mode": "loop",
        **fields,
    }
    return JobRequest(**chosen)  # type: ignore[arg-type]


def create_identity(request: JobRequest) -> str:
    """The emulator's identity for a create: the digest of its body, as the core sends it
    (compact JSON), so the fault plan's draw for each attempt can be known beforehand."""
    sent = json.dumps(submit_body(request), separators=(",", ":")).encode()
    return fingerprint(sent)


@contextlib.contextmanager
def first_create_faulted(
    faults: str, faulted: Callable[[FaultPlan, str, int], bool], fields: dict[str, object]
) -> Iterator[Emulated]:
    """An emulator whose fault plan hits the create's first attempt as ``faulted(plan,
    identity, attempt)`` says and leaves its second alone. The plan draws from the seed,
    the body and the attempt; the body holds the emulator's port, so the seed is found per
    run."""
    for seed in range(200):
        with emulated(faults=faults, seed=seed) as env:
            plan = FaultPlan(parse(faults), seed)
            identity = create_identity(request_for(env, **fields))
            clean = plan.server_error("submit", identity, 2, "syncso") is None and not (
                plan.reset_after("submit", identity, 2, "syncso")
            )
            if faulted(plan, identity, 1) and clean:
                yield env
                return
    raise AssertionError(f"no seed below 200 faults only the first create under {faults!r}")


def reset_after(plan: FaultPlan, identity: str, attempt: int) -> bool:
    return plan.reset_after("submit", identity, attempt, "syncso")


def failed_after_the_work(plan: FaultPlan, identity: str, attempt: int) -> bool:
    error = plan.server_error("submit", identity, attempt, "syncso")
    return error is not None and error.after_work


@pytest.mark.parametrize(
    ("faults", "faulted", "first"),
    [
        ("submit@syncso:reset-after=0.5", reset_after, ("reset-after", None)),
        # sync.so answers a keyed create that failed after its work 503
        # IDEMPOTENCY_OUTCOME_UNKNOWN, which the core retries under the same key.
        ("submit@syncso:5xx=0.5@504", failed_after_the_work, ("5xx", 503)),
    ],
    ids=["reset-after-the-body", "5xx-after-the-work"],
)
def test_a_create_whose_answer_is_lost_is_sent_again_under_its_key_and_makes_one_job(
    tmp_path: Path,
    faults: str,
    faulted: Callable[[FaultPlan, str, int], bool],
    first: tuple[str, int | None],
) -> None:
    fields: dict[str, object] = {"model": "lipsync-2-pro", "temperature": 0.4}
    with first_create_faulted(faults, faulted, fields) as env:
        with env.client("syncso", ledger=tmp_path / "jobs.sqlite") as client:
            result = client.run("syncso", request_for(env, **fields), tmp_path / "out.mp4")
            assert client.jobs is not None
            [summary] = client.jobs.list()
            job = client.jobs.get(summary.local_id)
            assert job.handle is not None
            assert client.poll(job.handle).state is JobState.SUCCEEDED
        assert (tmp_path / "out.mp4").stat().st_size > 0 and result.video_url
        creates = [a for a in env.emu.ledger.arrivals if a.endpoint == "submit"]
        # The first create was read and its generation made, and its answer lost; the
        # second, the same body under the same key, got that generation's 201.
        assert [(a.fault, a.status) for a in creates] == [first, (None, 201)]
        assert len({a.identity for a in creates}) == 1
        [accepted] = env.emu.ledger.accepted  # exactly one generation
        assert not accepted.answered  # its own create's answer was the one lost
        assert env.emu.ledger.duplicate_submits() == {}
        [generation] = env.emu.jobs("syncso")
        assert generation.id == accepted.job_id == job.handle.job_id
        # The key was the job's local id, the same on both attempts.
        assert job.handle.idempotency_key == job.local_id


# -- signed webhooks --------------------------------------------------------------------------


def verify(secret: str, header: str, raw: bytes) -> dict[str, object]:
    """The webhooks guide's verifier: parse ``t=...,v1=...``, re-serialise the payload
    compactly, HMAC-SHA256 ``"<t>.<payload>"`` with the secret as it is."""
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match is not None, header
    payload = json.loads(raw)
    message = f"{match[1]}.{json.dumps(payload, separators=(',', ':'))}".encode()
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(match[2], expected), "the signature does not verify"
    return dict(payload)


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    with emulated() as running:
        yield running


def test_a_completed_generation_is_posted_signed_to_its_webhook(env: Emulated) -> None:
    with CallbackTarget() as target, env.client("syncso") as client:
        handle = client.submit("syncso", request_for(env, callback_url=target.url))
        result = client.wait(handle)
        env.settle(lambda: bool(target.snapshot()))
        (call,) = target.snapshot()
        sent_at = env.clock.now().timestamp()
    header = call.headers["sync-signature"]
    payload = verify(DEFAULT_WEBHOOK_SECRET, header, call.body)
    assert call.headers["content-type"] == "application/json"
    assert b" " not in call.body  # compact: the raw body is what a verifier re-serialises
    assert int(header[2:].split(",")[0]) <= sent_at  # t: when it was sent, in unix seconds
    assert payload["id"] == handle.job_id and payload["status"] == "COMPLETED"
    assert payload["outputUrl"] == payload["outputMediaUrl"] == result.video_url
    assert payload["webhookUrl"] == target.url
    assert [(a.attempt, a.status) for a in env.emu.ledger.callbacks
            if a.job_id == handle.job_id] == [(1, 200)]


def test_a_failed_generation_is_posted_with_its_error(env: Emulated) -> None:
    with CallbackTarget() as target, env.client("syncso") as client:
        handle = client.submit("syncso", request_for(env, video=REFUSED_HOST,
                                                     callback_url=target.url))
        with pytest.raises(JobFailed):
            client.wait(handle)
        env.settle(lambda: bool(target.snapshot()))
        (call,) = target.snapshot()
    payload = verify(DEFAULT_WEBHOOK_SECRET, call.headers["sync-signature"], call.body)
    assert (payload["status"], payload["error_code"]) == (
        "FAILED", "generation_input_validation_failed"
    )
    assert "could not download https://media.invalid" in str(payload["error"])


def test_one_attempt_only_and_the_configured_secret(tmp_path: Path) -> None:
    """Retries are not documented; the secret is the emulator's to choose."""
    secret = "whsec_configured_for_this_test"
    with emulated(dialects=[SyncsoDialect(webhook_secret=secret)]) as env:
        with CallbackTarget(statuses=(500,)) as target, env.client("syncso") as client:
            handle = client.submit("syncso", request_for(env, callback_url=target.url))
            client.wait(handle)
            env.settle(lambda: bool(target.snapshot()))
            env.clock.sleep(60)  # time enough for a retry, were there one
            (call,) = target.snapshot()
        verify(secret, call.headers["sync-signature"], call.body)
        assert [a.status for a in env.emu.ledger.callbacks] == [500]


# -- the concurrency limit and uploads --------------------------------------------------------


def test_a_create_past_the_concurrency_limit_is_refused_until_one_ends() -> None:
    with emulated(dialects=[SyncsoDialect(concurrency=1)]) as env, env.client("syncso") as client:
        first = client.submit("syncso", request_for(env))
        with pytest.raises(RateLimited) as limited:
            client.submit("syncso", request_for(env, sync_mode="cut_off"))
        assert limited.value.code == "concurrency_limit_reached"
        assert "concurrency limit" in limited.value.message
        creates = [a.status for a in env.emu.ledger.arrivals if a.endpoint == "submit"]
        assert creates == [201, 429, 429, 429, 429]  # the keyed create, retried by the core
        client.wait(first)
        second = client.submit("syncso", request_for(env, sync_mode="cut_off"))
        assert client.wait(second).video_url
        assert len(env.emu.ledger.accepted) == 2


def test_local_files_are_uploaded_as_assets_and_used_by_id(env: Emulated, tmp_path: Path) -> None:
    video, audio = tmp_path / "face.mp4", tmp_path / "speech.wav"
    video.write_bytes(sample_video(LONG))
    audio.write_bytes(sample_speech(SHORT))
    with env.client("syncso") as client:
        handle = client.submit("syncso", JobRequest(video=str(video), audio=str(audio),
                                                    model="sync-3", sync_mode="cut_off"))
        client.download(client.wait(handle), tmp_path / "out.mp4")
    [generation] = [j for j in env.emu.jobs("syncso") if j.id == handle.job_id]
    items = generation.spec.echo["input"]
    assert [sorted(item) for item in items] == [["assetId", "type"], ["assetId", "type"]]
    assert generation.spec.video.endswith("/face.mp4")  # the asset's file, fetched
    assert generation.spec.audio is not None and generation.spec.audio.endswith("/speech.wav")
    uploads = [a for a in env.emu.ledger.arrivals if a.endpoint == "upload"][-6:]
    assert [(a.method, a.status) for a in uploads] == [("POST", 201), ("PUT", 200),
                                                        ("POST", 201)] * 2
