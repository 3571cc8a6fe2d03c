"""The ``lipbridge`` command end to end: every first-party plugin, on the emulator.

The CLI reads keys and base URLs from the environment, as in a user's shell. Its wait
loop sleeps before the first poll (``PollPolicy.first``, 2 s), so the tests give the
CLI its client through the documented hook in ``client_from`` (the root context's
``obj`` factory), building the same ``Client`` on the emulator's virtual clock: no
test sleeps for real. The emulator finishes jobs at once, so one poll is enough.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from emulated import (
    FIRST_PARTY,
    LONG,
    SHORT,
    Emulated,
    emulated,
    emulated_providers,
    measured_seconds,
    sample_video,
)

from lipbridge import Client, PollPolicy, Registry, SyncMode
from lipbridge.cli import ExitCode, cli
from lipbridge.pricing import output_seconds
from lipbridge_emulator import Timing, samples
from lipbridge_emulator.dialects import aimlapi

PROVIDERS = emulated_providers()
REGISTRY = Registry(environ={})
INSTANT = Timing(job_seconds=0, results_lag=0)  # done, with results, at the first poll
UNMODED = {"aimlapi": aimlapi.OUTPUT_FOLLOWS}  # what the emulator renders without a mode
WRONG_KEY = "sk-wrong-4f1d9c2ab7e3-not-the-emulator-key"


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    with emulated(timing=INSTANT) as running:
        yield running


def lipbridge(env: Emulated, provider: str, *args: str, key: str | None = None) -> Result:
    """Run the command with the provider's key and base URL in the environment."""
    return CliRunner().invoke(
        cli, list(args), env=env.env(provider, key), obj=lambda: Client(clock=env.clock)
    )


def mode_of(provider: str) -> SyncMode | None:
    caps = REGISTRY.info(provider).model(None)
    return caps.default_sync_mode or min(caps.sync_modes, key=lambda m: m.value, default=None)


def submit_args(provider: str, video: str, audio: str, out: Path) -> list[str]:
    mode = mode_of(provider)
    chosen = ["--sync-mode", mode.value] if mode else []
    return ["submit", provider, "--video", video, "--audio", audio, *chosen, "--output", str(out)]


def test_every_first_party_plugin_is_covered() -> None:
    assert set(PROVIDERS) >= FIRST_PARTY, f"not emulated end to end: {FIRST_PARTY - set(PROVIDERS)}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_submit_waits_and_downloads(env: Emulated, provider: str, tmp_path: Path) -> None:
    video, audio = env.videos[LONG], env.speeches[SHORT]
    out = tmp_path / f"{provider}.mp4"
    before = env.clock.monotonic()
    result = lipbridge(env, provider, *submit_args(provider, video.url, audio.url, out))
    assert result.exit_code == ExitCode.OK, result.output

    expected = output_seconds(mode_of(provider) or UNMODED[provider], video.seconds, audio.seconds)
    assert expected is not None
    assert abs(measured_seconds(out) - expected) <= env.frame

    # stderr: the job id first (so an interrupted wait never loses it), then progress
    err = result.stderr.splitlines()
    assert err[0].startswith(f"submitted {provider} job ")
    job_id = err[0].rsplit(" ", 1)[1]
    assert job_id in {a.job_id for a in env.emu.ledger.accepted if a.provider == provider}
    assert any(line.startswith("waiting: succeeded (") for line in err), err
    assert err[-1] == f"downloading to {out}"
    # stdout: the result, then where it was saved
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"video: {env.emu.url}/files/")
    assert lines[-1] == f"saved: {out}"
    # the wait's first sleep happened, on the virtual clock
    policy = PollPolicy()
    assert env.clock.monotonic() - before >= policy.first * (1 - policy.jitter)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_key_exits_with_the_provider_code(
    env: Emulated, provider: str, tmp_path: Path
) -> None:
    out = tmp_path / "never.mp4"
    args = submit_args(provider, env.videos[SHORT].url, env.speeches[LONG].url, out)
    result = lipbridge(env, provider, *args, key=WRONG_KEY)
    assert result.exit_code == ExitCode.PROVIDER, result.output  # documented: 4
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {provider}: ")
    assert WRONG_KEY not in result.output
    assert not out.exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_job_exits_with_the_job_failed_code(
    env: Emulated, provider: str, tmp_path: Path
) -> None:
    out = tmp_path / "never.mp4"
    refused = "https://media.invalid/face.mp4"  # the emulator fetches only from itself
    result = lipbridge(env, provider, *submit_args(provider, refused, env.speeches[LONG].url, out))
    assert result.exit_code == ExitCode.JOB_FAILED, result.output  # documented: 5
    err = result.stderr.splitlines()
    assert err[0].startswith(f"submitted {provider} job ")
    assert err[-1].startswith("error: ") and "could not download https://media.invalid" in err[-1]
    assert not out.exists()


def test_aimlapi_local_video_with_tts(env: Emulated, tmp_path: Path) -> None:
    face, out = tmp_path / "face.mp4", tmp_path / "out.mp4"
    face.write_bytes(sample_video(SHORT))
    text, voice = "Offline lip sync, spoken by the emulator's own voice.", "Ava"
    args = ["submit", "aimlapi", "--video", str(face), "--text", text, "--voice", voice]
    result = lipbridge(env, "aimlapi", *args, "--output", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    route, submitted = result.stderr.splitlines()[:2]
    assert route.startswith("video face.mp4: inline data URI (")  # said before the submit
    job_id = submitted.rsplit(" ", 1)[1]
    (view,) = [j for j in env.emu.jobs("aimlapi") if j.id == job_id]
    assert view.spec.video.startswith("data:video/mp4;base64,")
    assert (view.spec.tts_text, view.spec.tts_voice) == (text, voice)
    speech = max(samples.TTS_MIN_SECONDS, len(text) / samples.TTS_CHARS_PER_SECOND)
    expected = output_seconds(aimlapi.OUTPUT_FOLLOWS, measured_seconds(face), speech)
    assert expected is not None
    assert abs(measured_seconds(out) - expected) <= env.frame
