"""Fault soak: 200 jobs across the five providers under 5xx, resets, 429 bursts and slow
replies, checked against the emulator's own ledger.

Every job must end completed (output downloaded and decodable, of the right length) or
as a SubmitOutcomeUnknown carrying what is needed to reconcile it. The application
code here resubmits only what the provider definitely refused (429, 503, never sent),
after the wait it was told: that is what the ledger's Retry-After check verifies.
Virtual time: the jobs "take" 30 s each and nothing sleeps for real.
"""

from __future__ import annotations

import collections
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lipbridge import Client, JobRequest, TextToSpeech
from lipbridge.errors import ProviderUnavailable, RateLimited, SubmitOutcomeUnknown
from lipbridge.pricing import output_seconds
from lipbridge.transport import Transport
from lipbridge_emulator import CooperativeClock, Emulator, Timing, media, samples

JOBS = 200
FAULTS = (
    "submit:5xx=0.1,reset=0.05,429=0.03@3,slow=0.1@2;"
    "poll:5xx=0.1,reset=0.05,429=0.03@3,slow=0.1@2;"
    "download:reset=0.05;"
    "job:late=0.2@5"
)
FPS = 25


def _mode(client: Client, provider: str):  # type: ignore[no-untyped-def]
    caps = client.info(provider).model(client.info(provider).default_model)
    modes = sorted(caps.sync_modes, key=lambda m: m.value)
    return caps.default_sync_mode or (modes[0] if modes else None)


def test_fault_soak(tmp_path: Path) -> None:
    clock = CooperativeClock()
    video, audio = samples.sample_video(2.0), samples.sample_speech(3.0)
    started = time.perf_counter()
    with Emulator(clock=clock, faults=FAULTS, seed=11, timing=Timing(job_seconds=30)) as emu:
        providers = sorted(emu.dialects)
        assert providers == ["aihubmax", "aimlapi", "fal", "foxapi", "jogg", "replicate", "syncso"]
        video_url, audio_url = emu.upload(video, "face.mp4"), emu.upload(audio, "speech.wav")
        client = Client(
            clock=clock,
            transport=Transport(maxsize=64),
            api_keys={p: emu.key for p in providers},
            base_urls={p: emu.base_url(p) for p in providers},
        )
        resubmits = collections.Counter[str]()

        def run(i: int) -> tuple[str, object]:
            provider = providers[i % len(providers)]
            # A distinct body per job (the emulator ignores the query when fetching).
            request = JobRequest(
                video=f"{video_url}?job={i}", audio=audio_url, sync_mode=_mode(client, provider)
            )
            while True:
                try:
                    handle = client.submit(provider, request)
                    break
                except SubmitOutcomeUnknown as exc:
                    return "unknown", exc
                except (RateLimited, ProviderUnavailable) as exc:  # refused: safe to resend
                    resubmits[type(exc).__name__] += 1
                    clock.sleep(exc.retry_after or 1.0)
            result = client.wait(handle, timeout=3600)
            path = client.download(result, tmp_path / f"{i}.mp4")
            return "completed", (handle, request, path)

        with ThreadPoolExecutor(max_workers=40) as pool:
            outcomes = list(pool.map(run, range(JOBS)))
        client.close()
        arrivals, accepted, _ = emu.ledger.snapshot()
        violations = emu.ledger.retry_after_violations()
        duplicates = emu.ledger.duplicate_submits()
        virtual = clock.monotonic()
    real = time.perf_counter() - started

    completed = [o[1] for o in outcomes if o[0] == "completed"]
    unknown = [o[1] for o in outcomes if o[0] == "unknown"]
    assert len(completed) + len(unknown) == JOBS

    # Completed jobs: the output is a real video of the length the sync mode gives.
    v, a = media.probe(video), media.probe(audio)
    for handle, request, path in completed:  # type: ignore[misc]
        probe = media.probe(path.read_bytes())
        expected = output_seconds(request.sync_mode, v.seconds, a.seconds) or a.seconds
        assert probe.has_video and probe.has_audio
        assert abs(probe.seconds - expected) <= 1 / FPS, (handle.provider, probe.seconds)

    # Unknown outcomes say how to reconcile: the request's fingerprint and where it went.
    for exc in unknown:
        assert isinstance(exc, SubmitOutcomeUnknown)
        assert exc.details["request_fingerprint"] and exc.details["url"]

    # The ledger: nothing submitted twice, every accepted job known or reported unknown.
    assert duplicates == {}
    known_ids = {handle.job_id for handle, _, _ in completed}  # type: ignore[misc]
    unknown_prints = {exc.details["request_fingerprint"] for exc in unknown}  # type: ignore[union-attr]
    orphans = [
        entry for entry in accepted
        if entry.job_id not in known_ids and entry.fingerprint not in unknown_prints
    ]
    assert orphans == []
    # A lost answer is reported unknown, or, where the provider takes an idempotency key
    # (sync.so), recovered by sending the submit again under it.
    unanswered = [entry for entry in accepted if not entry.answered]
    assert all(e.fingerprint in unknown_prints or e.job_id in known_ids for e in unanswered)
    assert violations == []

    faults = collections.Counter(a.fault for a in arrivals if a.fault)
    by_endpoint = collections.Counter(a.endpoint for a in arrivals)
    limited = sum(1 for a in arrivals if a.status == 429)
    reconcile = sum(1 for exc in unknown if exc.details["request_fingerprint"] in {
        e.fingerprint for e in accepted
    })
    print(
        f"\nsoak: {JOBS} jobs over {', '.join(providers)}; faults {FAULTS!r}, seed 11\n"
        f"  completed and downloaded: {len(completed)}; outcome unknown: {len(unknown)} "
        f"({reconcile} of them had in fact been accepted: reconcile by fingerprint)\n"
        f"  requests: {dict(by_endpoint)}; faults met: {dict(faults)}\n"
        f"  429s answered: {limited}, Retry-After violations: {len(violations)}; "
        f"definite refusals resubmitted: {dict(resubmits)}; duplicate submits: 0\n"
        f"  virtual time {virtual:.0f} s, real time {real:.1f} s"
    )
    assert faults["5xx"] and faults["reset-before"] and faults["reset-after"] and faults["429"]
    assert faults["slow"] and limited


@pytest.mark.parametrize("seed", [3])
def test_faults_are_deterministic_under_a_seed(seed: int, tmp_path: Path) -> None:
    """The same seed and the same requests meet the same faults.

    "The same requests" includes when they arrive, so the client's poll jitter is seeded
    too. The bodies carry no URL of the emulator (AI/ML API takes the video inline and
    speaks the text), so the draws do not depend on which port it got.
    """
    video = tmp_path / "face.mp4"
    video.write_bytes(samples.sample_video(1.0))

    def run() -> list[tuple[str | None, str | None, int | None]]:
        clock = CooperativeClock()
        faults = "poll:5xx=0.3,429=0.2@2"
        with Emulator(clock=clock, faults=faults, seed=seed) as emu:
            client = Client(
                clock=clock,
                rng=random.Random(seed),
                api_keys={"aimlapi": emu.key},
                base_urls={"aimlapi": emu.base_url("aimlapi")},
            )
            for i in range(3):
                speech = TextToSpeech(text=f"Job number {i} is speaking now.", voice="Oliver")
                client.wait(client.submit("aimlapi", JobRequest(video=str(video), tts=speech)))
            client.close()
            return [(a.endpoint, a.fault, a.status) for a in emu.ledger.snapshot()[0]]

    first, second = run(), run()
    assert first == second
    assert {fault for _, fault, _ in first} == {None, "5xx", "429"}
