"""Every first-party plugin end to end over real HTTP: the public Client on the emulator.

Submit, wait, download and measure the file, for each sync mode a plugin declares; then
the ways a job goes wrong (failed job, wrong key, no credits, expired URL), FoxAPI's
callbacks and AI/ML API's TTS and data-URI paths. Time is virtual: nothing sleeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulated import (
    FIRST_PARTY,
    LONG,
    SHORT,
    CallbackTarget,
    Emulated,
    LedgerMark,
    emulated,
    emulated_providers,
    measured_seconds,
    sample_speech,
    sample_video,
)

from lipbridge import (
    AuthenticationError,
    DownloadFailed,
    InsufficientCredits,
    JobFailed,
    JobRequest,
    JobState,
    JobStatus,
    Registry,
    SyncMode,
    TextToSpeech,
)
from lipbridge.pricing import output_seconds
from lipbridge_emulator import samples
from lipbridge_emulator.dialect import JobView
from lipbridge_emulator.dialects import aimlapi
from lipbridge_emulator.ledger import CallbackAttempt

PROVIDERS = emulated_providers()
REGISTRY = Registry(environ={})
# What the emulator renders when a plugin declares no sync mode: AI/ML API's PixVerse
# output follows the speech (the dialect's documented assumption).
UNMODED = {"aimlapi": aimlapi.OUTPUT_FOLLOWS}
WRONG_KEY = "sk-wrong-4f1d9c2ab7e3-not-the-emulator-key"
REFUSED_HOST = "https://media.invalid/face.mp4"  # the emulator fetches only from itself
LIFETIME = 60.0  # seconds a result URL lives in the expiry tests


def declared_modes(provider: str) -> list[SyncMode | None]:
    """The default model's sync modes; [None] for a plugin without any (its one path)."""
    caps = REGISTRY.info(provider).model(None)
    modes = sorted(caps.sync_modes, key=lambda m: m.value)
    return [*modes] if modes else [None]


def some_mode(provider: str) -> SyncMode | None:
    caps = REGISTRY.info(provider).model(None)
    return caps.default_sync_mode or declared_modes(provider)[0]


CASES = [
    pytest.param(p, mode, v, a, id=f"{p}-{mode.value if mode else 'none'}-v{v:g}-a{a:g}")
    for p in PROVIDERS
    for mode in declared_modes(p)
    for v, a in ((SHORT, LONG), (LONG, SHORT))
]


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    """One emulator for the success matrix, so renders are shared between providers."""
    with emulated() as running:
        yield running


def request_for(env: Emulated, provider: str, **fields: Any) -> JobRequest:
    """A valid request: the short video, the long speech, a mode the plugin declares."""
    chosen = {
        "video": env.videos[SHORT].url,
        "audio": env.speeches[LONG].url,
        "sync_mode": some_mode(provider),
        **fields,
    }
    return JobRequest(**chosen)


def job(env: Emulated, provider: str, job_id: str) -> JobView:
    (view,) = [j for j in env.emu.jobs(provider) if j.id == job_id]
    return view


def test_every_first_party_plugin_is_emulated(env: Emulated) -> None:
    assert set(PROVIDERS) == set(env.emu.dialects) & set(REGISTRY.names())
    assert set(PROVIDERS) >= FIRST_PARTY, f"not emulated end to end: {FIRST_PARTY - set(PROVIDERS)}"


@pytest.mark.parametrize(("provider", "mode", "video_s", "audio_s"), CASES)
def test_output_length_follows_the_sync_mode(
    env: Emulated,
    provider: str,
    mode: SyncMode | None,
    video_s: float,
    audio_s: float,
    tmp_path: Path,
) -> None:
    video, audio = env.videos[video_s], env.speeches[audio_s]
    seen: list[JobStatus] = []
    with env.client(provider) as client:
        handle = client.submit(
            provider, JobRequest(video=video.url, audio=audio.url, sync_mode=mode)
        )
        result = client.wait(handle, on_progress=seen.append)
        out = client.download(result, tmp_path / "out.mp4")

    rule = mode or UNMODED[provider]
    expected = output_seconds(rule, video.seconds, audio.seconds)
    assert expected is not None
    measured = measured_seconds(out)
    assert abs(measured - expected) <= env.frame, (rule, video.seconds, audio.seconds, measured)
    if result.duration_seconds is not None:  # JoggAI reports the length; it must be true
        assert abs(result.duration_seconds - measured) <= env.frame

    view = job(env, provider, handle.job_id)
    assert view.spec.sync_mode is rule  # the plugin's wire field reached the provider's meaning
    states = [s.state for s in seen]
    assert states[-1] is JobState.SUCCEEDED and JobState.RUNNING in states, states
    progress = [s.progress for s in seen if s.progress is not None]
    assert progress == sorted(progress)
    if result.billed is not None:  # what the plugin reads as billed is what was charged
        assert result.billed.amount == view.charge
    if result.expires_at is not None:  # a plugin may be cautious, never optimistic
        assert view.expires is not None and result.expires_at <= view.expires


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_input_the_provider_cannot_fetch_fails_the_job(env: Emulated, provider: str) -> None:
    with env.client(provider) as client:
        handle = client.submit(provider, request_for(env, provider, video=REFUSED_HOST))
        with pytest.raises(JobFailed) as failed:
            client.wait(handle)
    assert failed.value.job_id == handle.job_id
    assert "could not download https://media.invalid" in str(failed.value)
    assert failed.value.status is not None and failed.value.status.state is JobState.FAILED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_key_is_refused_without_echoing_it(env: Emulated, provider: str) -> None:
    mark = env.mark()
    with env.client(provider, key=WRONG_KEY) as client, pytest.raises(AuthenticationError) as no:
        client.submit(provider, request_for(env, provider))
    error = no.value
    assert error.provider == provider
    for shown in (str(error), repr(error), *map(str, error.args)):
        assert WRONG_KEY not in shown
    arrivals, accepted, _ = env.since(mark)
    assert accepted == []
    assert [a.endpoint for a in arrivals] == ["submit"]  # refused, and not retried


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_credits_refuses_the_submit(env: Emulated, provider: str) -> None:
    mark, balance = env.mark(), env.emu.credits[provider]
    env.emu.set_credits(provider, 0)
    try:
        with env.client(provider) as client, pytest.raises(InsufficientCredits) as refused:
            client.submit(provider, request_for(env, provider))
        assert env.emu.credits[provider] == 0
    finally:
        env.emu.set_credits(provider, balance)
    assert refused.value.provider == provider
    arrivals, accepted, _ = env.since(mark)
    assert accepted == []
    assert [a.endpoint for a in arrivals] == ["submit"]


@pytest.fixture(scope="module")
def short_lived() -> Iterator[Emulated]:
    """Result URLs that live a minute, so a test can outlive them."""
    with emulated(url_lifetime=LIFETIME) as running:
        yield running


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_result_url_stops_working_when_it_expires(
    short_lived: Emulated, provider: str, tmp_path: Path
) -> None:
    env = short_lived
    with env.client(provider) as client:
        result = client.wait(client.submit(provider, request_for(env, provider)))
        fresh = client.download(result, tmp_path / "fresh.mp4")
        assert measured_seconds(fresh) > 0
        env.clock.advance(LIFETIME + 1)  # past expiry: the results came before wait ended
        with pytest.raises(DownloadFailed) as expired:
            client.download(result, tmp_path / "late.mp4")
    assert expired.value.http_status == 403
    assert "expired" in expired.value.message
    assert not (tmp_path / "late.mp4").exists()


# -- callbacks: FoxAPI's below; sync.so's signed webhooks in test_dialect_syncso_e2e.py -----


def test_foxapi_and_syncso_are_the_providers_with_callbacks(env: Emulated) -> None:
    """If another plugin gains callbacks, tests like these should cover it too."""
    dialects = {p for p in PROVIDERS if env.emu.dialects[p].callbacks is not None}
    plugins = {p for p in PROVIDERS if REGISTRY.info(p).model(None).callback}
    assert dialects == plugins == {"fal", "foxapi", "replicate", "syncso"}  # fal's: its own e2e


def callbacks_for(env: Emulated, mark: LedgerMark, job_id: str) -> list[CallbackAttempt]:
    return [c for c in env.since(mark)[2] if c.job_id == job_id]


def test_foxapi_callback_is_delivered_with_the_task_body(env: Emulated) -> None:
    mark = env.mark()
    with CallbackTarget() as target, env.client("foxapi") as client:
        handle = client.submit("foxapi", request_for(env, "foxapi", callback_url=target.url))
        result = client.wait(handle)
        env.settle(lambda: bool(target.snapshot()))
        received = target.snapshot()
    attempts = callbacks_for(env, mark, handle.job_id)
    assert [(a.attempt, a.status, a.url) for a in attempts] == [(1, 200, target.url)]
    (call,) = received
    assert call.path == "/cb" and call.headers["content-type"] == "application/json"
    body = call.json()  # the task-query format: the finished task as a poll shows it
    assert body["id"] == handle.job_id and body["object"] == "video.generation.task"
    assert body["status"] == "completed" and body["progress"] == 100
    assert body["results"] == [{"url": result.video_url}] and body["error"] is None


def test_foxapi_calls_back_when_a_job_fails(env: Emulated) -> None:
    mark = env.mark()
    with CallbackTarget() as target, env.client("foxapi") as client:
        request = request_for(env, "foxapi", video=REFUSED_HOST, callback_url=target.url)
        handle = client.submit("foxapi", request)
        with pytest.raises(JobFailed):
            client.wait(handle)
        env.settle(lambda: bool(target.snapshot()))
        (call,) = target.snapshot()
    assert [a.status for a in callbacks_for(env, mark, handle.job_id)] == [200]
    body = call.json()
    assert (body["id"], body["status"], body["results"]) == (handle.job_id, "failed", None)
    assert "could not download https://media.invalid" in body["error"]["message"]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param((500,), [500, 500, 500, 500], id="always-500"),
        pytest.param((500, 503, 200), [500, 503, 200], id="200-on-the-third"),
    ],
)
def test_foxapi_callback_retries_per_its_policy(
    env: Emulated, answers: tuple[int, ...], expected: list[int]
) -> None:
    policy = env.emu.dialects["foxapi"].callbacks
    assert policy is not None and len(policy.retry_delays) == 3  # "maximum 3 retries"
    mark = env.mark()
    with CallbackTarget(statuses=answers) as target, env.client("foxapi") as client:
        handle = client.submit("foxapi", request_for(env, "foxapi", callback_url=target.url))
        client.wait(handle)
        env.settle(lambda: len(target.snapshot()) == len(expected))
        env.clock.sleep(2 * sum(policy.retry_delays))  # time enough for an extra attempt
        received = target.snapshot()
    attempts = callbacks_for(env, mark, handle.job_id)
    assert [a.status for a in attempts] == expected
    assert [a.attempt for a in attempts] == list(range(1, len(expected) + 1))
    assert len(received) == len(expected)
    assert len({r.body for r in received}) == 1  # every retry carries the same body
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, policy.retry_delays, strict=False):
        assert gap >= delay, (gaps, policy.retry_delays)


# -- AI/ML API: text to speech and local files sent inline ----------------------------------


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("Hi there.", "Harper"),  # shorter than the TTS minimum
        ("The quick brown fox jumps over the lazy dog again and again.", "Oliver"),
    ],
)
def test_aimlapi_tts_speaks_the_text(env: Emulated, text: str, voice: str, tmp_path: Path) -> None:
    video = env.videos[SHORT]
    with env.client("aimlapi") as client:
        handle = client.submit(
            "aimlapi", JobRequest(video=video.url, tts=TextToSpeech(text=text, voice=voice))
        )
        out = client.download(client.wait(handle), tmp_path / "tts.mp4")
    view = job(env, "aimlapi", handle.job_id)
    assert (view.spec.audio, view.spec.tts_text, view.spec.tts_voice) == (None, text, voice)
    speech = max(samples.TTS_MIN_SECONDS, len(text) / samples.TTS_CHARS_PER_SECOND)
    expected = output_seconds(aimlapi.OUTPUT_FOLLOWS, video.seconds, speech)
    assert expected is not None
    assert abs(measured_seconds(out) - expected) <= env.frame


def test_aimlapi_local_files_travel_as_data_uris(env: Emulated, tmp_path: Path) -> None:
    video, audio = tmp_path / "face.mp4", tmp_path / "speech.wav"
    video.write_bytes(sample_video(LONG))
    audio.write_bytes(sample_speech(SHORT))
    with env.client("aimlapi") as client:
        handle = client.submit("aimlapi", JobRequest(video=str(video), audio=audio))
        out = client.download(client.wait(handle), tmp_path / "out.mp4")
    view = job(env, "aimlapi", handle.job_id)
    assert view.spec.video.startswith("data:video/mp4;base64,")
    assert (view.spec.audio or "").startswith("data:audio/wav;base64,")
    lengths = measured_seconds(video), measured_seconds(audio)
    expected = output_seconds(aimlapi.OUTPUT_FOLLOWS, *lengths)
    assert expected is not None
    assert abs(measured_seconds(out) - expected) <= env.frame
