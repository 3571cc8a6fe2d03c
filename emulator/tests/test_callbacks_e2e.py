"""Callbacks end to end (issue 16, Proof): the emulator calls back to a real ``lipbridge
callbacks serve``, and a real ``lipbridge run`` waiting on the same job ledger stops
polling.

* sync.so signs its webhook; the receiver verifies it with the dialect's secret and
  records it as the job's status, and the waiting process ends its wait on it with no
  poll at all, then downloads the video.
* FoxAPI's callback is unsigned; with ``LIPBRIDGE_FOXAPI_UNSIGNED_CALLBACKS=accept`` it
  is recorded as a hint, on which the waiting process polls at once: one poll, and the
  job is done.
* A forged webhook (signed with another secret) and a replayed one (the right secret, an
  hour old) get 400 from the receiver and change nothing in the ledger.

The processes are real (``lipbridge`` as installed, run by this interpreter) and share
one ledger; the emulator runs in this process on the real clock. A job takes two minutes
of emulator time, so it cannot end on its own while the test looks at it; once its
output is rendered (the emulator marks a render as work in progress, which the test's
clock sees), the test jumps the emulator's clock past the job's end, and the emulator
calls back within half a second. The waiting process's first fallback poll would come
15 s (+-20 %) after its submit, long after that: every assertion is on counts and order,
from the emulator's ledger (polls before and after the jump) and the job ledger (its
events), never on how long anything took.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import define, field
from batch_e2e import BatchCli, Watched
from crash import PATIENCE, JumpingClock
from emulated import sample_speech, sample_video

from lipbridge.ledger import Ledger
from lipbridge.ledger.records import EventKind
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.dialects.syncso import DEFAULT_WEBHOOK_SECRET, SyncsoDialect

JOB_SECONDS = 120.0  # emulator time; the clock jumps past it (signatures stay within 300 s)
PROVIDERS = ("syncso", "foxapi")
RECEIVER = re.compile(r"taking callbacks at (http://\S+)/<provider>")
ANNOUNCED = re.compile(r"^job (\w+): (\w+) job (\S+);", re.MULTILINE)


class RenderingClock(JumpingClock):
    """The crash tests' jumping clock, which also takes the emulator's marks of work in
    progress (the ``lipbridge_emulator.clock.Cooperative`` protocol: a render holds it
    until its output exists), so that a jump can wait for them: a job is never past its
    end while its video is still being rendered (its callback would say PROCESSING)."""

    def __init__(self) -> None:
        super().__init__()
        self._held = 0
        self._work = threading.Condition()

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def hold(self) -> object:
        with self._work:
            self._held += 1
        return None

    def release(self, token: object) -> None:
        with self._work:
            self._held -= 1
            self._work.notify_all()

    def jump_when_idle(self, seconds: float) -> float:
        """Jump once no work is in progress; the monotonic time just before the jump."""
        with self._work:
            assert self._work.wait_for(lambda: self._held == 0, PATIENCE), "a render hangs"
            before = self.monotonic()
            self.jump(seconds)
        return before


@define
class CallbackCli(BatchCli):
    """The ``lipbridge`` command on the emulator with the callback settings as well."""

    settings: dict[str, str] = field(factory=dict)

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.settings}


@define
class Setup:
    emu: Emulator
    clock: RenderingClock
    cli: CallbackCli
    receiver: str  # the receiver's base URL: POST <receiver>/<provider>
    video: str
    audio: str
    out: Path


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    clock = RenderingClock()
    timing = Timing(job_seconds=JOB_SECONDS, results_lag=0)
    with Emulator(clock=clock, timing=timing) as emu:
        dialect = emu.dialects["syncso"]
        assert isinstance(dialect, SyncsoDialect)
        assert dialect.webhook_secret == DEFAULT_WEBHOOK_SECRET
        cli = CallbackCli(
            emu, PROVIDERS, tmp_path / "jobs.sqlite", tmp_path / "logs",
            settings={
                "LIPBRIDGE_SYNCSO_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
                "LIPBRIDGE_FOXAPI_UNSIGNED_CALLBACKS": "accept",
            },
        )
        try:
            serving = cli.start_watched("callbacks", "serve", "--port", "0")
            [url] = RECEIVER.findall("".join(serving.wait_for_lines(
                lambda lines: bool(RECEIVER.search("".join(lines))), "the receiver's address"
            )))
            yield Setup(
                emu=emu, clock=clock, cli=cli, receiver=url,
                video=emu.upload(sample_video(2.0), "face.mp4"),
                audio=emu.upload(sample_speech(3.0), "speech.wav"),
                out=tmp_path / "out.mp4",
            )
            serving.proc.terminate()  # SIGTERM: the receiver's own clean stop
            assert serving.wait().returncode == 0
        finally:
            cli.close()


def run_waiting(setup: Setup, provider: str) -> tuple[Watched, str, str]:
    """``lipbridge run`` with a callback URL on the receiver, once its job is recorded in
    the ledger (it says so before it waits): the process, the local and provider job ids."""
    running = setup.cli.start_watched(
        "run", provider, "--video", setup.video, "--audio", setup.audio, "--sync-mode", "loop",
        "--callback-url", f"{setup.receiver}/{provider}", "-o", str(setup.out),
    )
    printed = running.wait_for_lines(
        lambda lines: bool(ANNOUNCED.search("".join(lines))), "the job's ids"
    )
    found = ANNOUNCED.search("".join(printed))
    assert found is not None and found[2] == provider
    return running, found[1], found[3]


def called_back(setup: Setup, waiting: Watched, job_id: str) -> float:
    """Jump past the job's end (once its video is rendered) and wait for the waiting
    process, which must save the video, after the emulator's one callback, answered 200:
    the emulator's monotonic time just before the jump."""
    jumped_at = setup.clock.jump_when_idle(JOB_SECONDS)
    finished = waiting.wait()
    assert finished.returncode == 0, finished
    assert setup.out.stat().st_size > 0
    _, _, callbacks = setup.emu.ledger.snapshot()
    assert [(c.job_id, c.status) for c in callbacks] == [(job_id, 200)]
    return jumped_at


def events_of(setup: Setup, local_id: str) -> list[EventKind]:
    """The job's events, read from the ledger file as another process would."""
    with Ledger(setup.cli.ledger) as ledger:
        return [event.kind for event in ledger.events(local_id)]


def polls_of(setup: Setup, job_id: str) -> list[float]:
    """When the emulator answered each poll of ``job_id`` (its clock's monotonic time)."""
    return [a.at for a in setup.emu.ledger.snapshot()[0]
            if a.endpoint == "poll" and a.identity == job_id]


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def signed(body: bytes, secret: str, t: int) -> dict[str, str]:
    """sync.so's scheme (its webhooks guide), computed here independently."""
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Sync-Signature": f"t={t},v1={v1}"}


def test_a_signed_webhook_ends_the_wait_with_no_poll_and_forgeries_change_nothing(
    setup: Setup,
) -> None:
    waiting, local_id, job_id = run_waiting(setup, "syncso")
    before = events_of(setup, local_id)
    # A forged "completed" for the waiting job, and a replay of a genuine-looking one.
    forged = json.dumps({"id": job_id, "createdAt": "2026-01-01T00:00:00.000Z",
                         "status": "COMPLETED", "model": "lipsync-2", "input": [],
                         "outputUrl": "https://media.invalid/forged.mp4"},
                        separators=(",", ":")).encode()
    now = int(setup.clock.now().timestamp())  # the real clock: the jump is yet to come
    for headers in (signed(forged, "whsec_not_the_accounts", now),
                    signed(forged, DEFAULT_WEBHOOK_SECRET, now - 3600)):
        assert post(f"{setup.receiver}/syncso", forged, headers) == 400
    assert events_of(setup, local_id) == before
    assert not waiting.ended()

    jumped_at = called_back(setup, waiting, job_id)
    assert [at for at in polls_of(setup, job_id) if at > jumped_at] == []  # none after it
    shown = setup.cli.show(local_id)
    assert shown["job"]["state"] == "downloaded"
    kinds = [event["kind"] for event in shown["events"]]
    assert "callback" in kinds and kinds.index("callback") < kinds.index("downloaded")


def test_an_unsigned_callback_taken_as_a_hint_makes_the_wait_poll_once(setup: Setup) -> None:
    waiting, local_id, job_id = run_waiting(setup, "foxapi")
    jumped_at = called_back(setup, waiting, job_id)
    assert len([at for at in polls_of(setup, job_id) if at > jumped_at]) == 1
    kinds = events_of(setup, local_id)
    # The hint first, then the poll it caused saw the job done, then the download.
    assert kinds.index(EventKind.CALLBACK_HINT) < kinds.index(EventKind.DOWNLOADED)
    after_hint = kinds[kinds.index(EventKind.CALLBACK_HINT) + 1:]
    assert after_hint == [EventKind.STATUS, EventKind.DOWNLOADED], kinds
    assert EventKind.CALLBACK not in kinds
