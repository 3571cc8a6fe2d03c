"""Crash safety end to end (issue 13): ``lipbridge run`` killed with SIGKILL at every stage
of a job, then ``lipbridge jobs resume --all`` in a new process, against the emulator.

Every job completes exactly once (its file saved with the right length, the ledger says
``downloaded``) and the emulator's own ledger shows no duplicate submit. Each stage runs
on FoxAPI, which offers neither an idempotency key nor a job lookup (the test plays the
user: it reads the emulator's record of accepted jobs as a user reads the dashboard and
runs ``jobs reconcile``), and on JoggAI, whose lookup lets ``resume`` find a job whose
answer was lost by itself. Then two ``jobs resume --all`` at once on one ledger: each job
is driven by exactly one of them.

The processes are real (``lipbridge`` as installed, run by this interpreter) with a
ledger and an output folder each; the emulator runs in this process. A hold fault
(docs/emulator.md, "Holds") stops the request at the stage wanted, the test waits for it
on the emulator's condition, then kills the process. Jobs are done at once, but for the
mid-wait stage, whose job takes an hour until the test jumps the emulator's clock past
it, so every job is exactly as far along as its stage needs however slowly a loaded
machine runs the processes (whose first poll comes about 2 s after the submit). The cases
are independent (their own emulator, ledger and files), so they run side by side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from crash import Finished, JumpingClock, Lipbridge, port_of, socket_owners, wait_for_holds
from emulated import measured_seconds, sample_speech, sample_video

from lipbridge import Client, JobRequest, PollPolicy, SyncMode
from lipbridge.cli import ExitCode
from lipbridge.context import Clock
from lipbridge.ledger import Ledger
from lipbridge.pricing import output_seconds
from lipbridge_emulator import CooperativeClock, Emulator, Timing, media
from lipbridge_emulator.holds import HoldEnd, HoldPoint

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")

VIDEO_SECONDS, AUDIO_SECONDS = 1.0, 1.5
MODES = {"foxapi": SyncMode.LOOP, "jogg": SyncMode.BOUNCE}
PROVIDERS = tuple(MODES)
FINDS_JOBS = {"jogg"}  # plugins with lipbridge_find_jobs: a lost answer is found again
PAST_ANY_JOB = 7200.0  # a jump of the emulator's clock after which every job so far is done


@frozen
class Stage:
    name: str
    faults: str  # the hold that stops the process there
    point: HoldPoint
    job_seconds: float  # how long the emulator's jobs take (emulator time)
    state: str  # what the ledger says of the job once its process was killed
    accepted: bool  # whether the provider has the job by then


STAGES = (
    # The intent is recorded; the provider never takes the job.
    Stage("before-submit", "submit:hold-before=1", HoldPoint.SUBMIT_BEFORE, 0, "unknown", False),
    # The provider took it; its answer never reaches the process.
    Stage("answer-in-flight", "submit:hold-after=1", HoldPoint.SUBMIT_AFTER, 0, "unknown", True),
    # The handle is recorded; the first poll never comes back.
    Stage("after-handle", "poll:hold=1", HoldPoint.POLL, 0, "queued", True),
    # One poll saw the job queued (it takes an hour, until the test jumps past it); the
    # second never comes back.
    Stage("mid-wait", "poll:hold=2", HoldPoint.POLL, 3600, "queued", True),
    # The job is done; the download stops half way.
    Stage("mid-download", "download:hold=1", HoldPoint.DOWNLOAD, 0, "succeeded", True),
)
CASES = [(provider, stage) for stage in STAGES for provider in PROVIDERS]


def needs_the_user(provider: str, stage: Stage) -> bool:
    """Whether ``resume`` alone cannot settle the job: its submit's outcome is unknown
    and the provider cannot be asked. A lookup that finds nothing is no proof either."""
    unknown = stage.state == "unknown"
    return unknown and (provider not in FINDS_JOBS or not stage.accepted)


@frozen
class Inputs:
    video: str
    audio: str
    frame: float  # one frame of the sample video: the duration tolerance


def upload_inputs(emu: Emulator) -> Inputs:
    video, audio = sample_video(VIDEO_SECONDS), sample_speech(AUDIO_SECONDS)
    fps = media.probe(video).fps
    assert fps
    return Inputs(emu.upload(video, "face.mp4"), emu.upload(audio, "speech.wav"), 1 / fps)


def expected_seconds(provider: str) -> float:
    seconds = output_seconds(MODES[provider], VIDEO_SECONDS, AUDIO_SECONDS)
    assert seconds is not None
    return seconds


def emulator(faults: str, job_seconds: float, clock: Clock) -> Emulator:
    return Emulator(
        clock=clock, faults=faults, timing=Timing(job_seconds=job_seconds, results_lag=0)
    )


def says_needs_reconciling(finished: Finished, local_id: str) -> bool:
    text = finished.stdout + finished.stderr
    return f"lipbridge jobs reconcile {local_id}" in text and "Traceback" not in text


def recorded(shown: dict[str, Any]) -> dict[str, Any]:
    """What the ledger knows of a job: all of ``jobs show --json`` but who holds its
    lease (taken and let go by whoever looks at the job)."""
    job = {k: v for k, v in shown["job"].items() if not k.startswith("lease_")}
    return {"job": job, "events": shown["events"]}


def check_completed_once(
    cli: Lipbridge, emu: Emulator, provider: str, inputs: Inputs, output: Path
) -> dict[str, Any]:
    """The one job of ``cli``'s ledger is downloaded to ``output``, whole, and the
    provider accepted it exactly once."""
    with Ledger(cli.ledger) as ledger:  # the same file through the Python API
        [listed] = ledger.list()
    shown = cli.show(listed.local_id)
    job = shown["job"]
    assert job["state"] == "downloaded", shown
    data = output.read_bytes()
    [made] = emu.jobs(provider)
    assert made.output_url is not None
    assert data == emu.store.read(made.output_url.split("/")[-2])  # the provider's bytes
    assert (job["output_path"], job["output_size"]) == (str(output), len(data))
    assert job["output_sha256"] == hashlib.sha256(data).hexdigest()
    assert abs(measured_seconds(output) - expected_seconds(provider)) <= inputs.frame
    assert [p.name for p in output.parent.iterdir()] == [output.name]  # no .part left
    assert emu.ledger.duplicate_submits() == {}
    [accepted] = emu.ledger.accepted
    assert accepted.provider == provider and accepted.job_id == listed.provider_job_id
    return shown


# -- kill -9 at every stage -------------------------------------------------------------------


def crash_and_resume(provider: str, stage: Stage, root: Path) -> None:
    """One case, start to end (run on a worker thread; its assertions fail its test)."""
    clock = JumpingClock()
    with emulator(stage.faults, stage.job_seconds, clock) as emu:
        inputs = upload_inputs(emu)
        output = root / "out" / f"{provider}.mp4"
        output.parent.mkdir()
        cli = Lipbridge(emu, [provider], root / "jobs.sqlite", root / "logs")
        try:
            _crash_and_resume(cli, emu, clock, provider, stage, inputs, output)
        finally:
            cli.close()


def _crash_and_resume(
    cli: Lipbridge,
    emu: Emulator,
    clock: JumpingClock,
    provider: str,
    stage: Stage,
    inputs: Inputs,
    output: Path,
) -> None:
    # 1. The job runs until its request reaches the hold, and the process is killed there.
    mode = MODES[provider].value
    run = cli.start(
        "run", provider, "--video", inputs.video, "--audio", inputs.audio, "--sync-mode", mode,
        "-o", str(output),
    )
    [held] = wait_for_holds(emu, [run], 1, stage.point)
    run.kill()
    assert held.wait_ended() is HoldEnd.GONE  # the emulator saw the client go
    emu.holds.disarm()  # nothing more is held: the resume runs freely
    assert len(emu.ledger.accepted) == int(stage.accepted)
    if stage.point is HoldPoint.SUBMIT_AFTER:
        assert not emu.ledger.accepted[0].answered  # billed, and the answer lost
    if stage.point is HoldPoint.DOWNLOAD:  # the dead process's partial file is there
        [part] = output.parent.iterdir()
        assert part.name.startswith(f".{output.name}.{run.pid}.") and part.name.endswith(".part")
    clock.jump(PAST_ANY_JOB)  # every job the provider took is done now

    # 2. What the ledger kept: the job, as far as the dead process got; once it had a
    #    handle, the process had said how to resume it.
    [job] = cli.jobs()
    local_id = job["local_id"]
    assert (job["provider"], job["state"]) == (provider, stage.state), job
    said = run.finished().stderr
    if stage.state == "unknown":
        assert job["provider_job_id"] is None
        assert local_id not in said
    else:
        assert f"lipbridge jobs resume {local_id}" in said, said

    # 3. Where only the user can tell: plain `resume` says so and changes nothing; the
    #    user looks at the provider's dashboard (the emulator's jobs) and reconciles.
    if needs_the_user(provider, stage):
        before, arrivals = recorded(cli.show(local_id)), len(emu.ledger.arrivals)
        plain = cli.run("jobs", "resume", "--all")
        assert plain.returncode == ExitCode.PROVIDER, plain  # as for a submit outcome unknown
        assert says_needs_reconciling(plain, local_id), plain
        assert recorded(cli.show(local_id)) == before
        new = [a.endpoint for a in emu.ledger.arrivals[arrivals:] if a.provider]
        assert "submit" not in new  # a lookup (JoggAI) at most
        dashboard = [j for j in emu.jobs(provider) if j.spec.video == inputs.video]
        assert len(dashboard) == int(stage.accepted)
        told = ["--provider-job", dashboard[0].id] if dashboard else ["--not-submitted"]
        reconciled = cli.run("jobs", "reconcile", local_id, *told)
        assert reconciled.returncode == 0, reconciled

    # 4. `resume --all` finishes the job, once.
    resumed = cli.run("jobs", "resume", "--all")
    assert resumed.returncode == ExitCode.OK, resumed
    shown = check_completed_once(cli, emu, provider, inputs, output)
    kinds = [event["kind"] for event in shown["events"]]
    assert kinds.count("downloaded") == 1, kinds
    name = f"/{shown['job']['handle']['job_id']}.mp4"
    fetches = [a for a in emu.ledger.arrivals if a.endpoint == "download" and a.path.endswith(name)]
    whole = [(200, None)]  # and before it, the one cut short
    cut = [(200, "hold")] if stage.point is HoldPoint.DOWNLOAD else []
    assert [(a.status, a.fault) for a in fetches] == cut + whole, fetches


@pytest.fixture(scope="module")
def crashes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[None]]]:
    """Every selected case, started at once on its own thread; each test waits for its own."""
    chosen = [
        item.callspec.id
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
        and item.originalname == "test_kill_9_then_resume_completes_the_job_once"
    ]
    cases = {f"{stage.name}-{provider}": (provider, stage) for provider, stage in CASES}
    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        futures = {
            name: pool.submit(crash_and_resume, *cases[name], tmp_path_factory.mktemp(name))
            for name in chosen
        }
        yield futures


@pytest.mark.parametrize(
    ("provider", "stage"), CASES, ids=[f"{s.name}-{p}" for p, s in CASES]
)
def test_kill_9_then_resume_completes_the_job_once(
    crashes: dict[str, Future[None]], provider: str, stage: Stage
) -> None:
    crashes[f"{stage.name}-{provider}"].result()


# -- two resumers at once ---------------------------------------------------------------------


def unfinished_jobs(emu: Emulator, ledger: Path, out: Path, inputs: Inputs) -> dict[str, str]:
    """Two jobs per provider, recorded as submitted (handles, outputs asked for, leases
    free) as a process that stopped after submitting leaves them; each is done at the
    emulator, and polled once already (so the resumers' polls are the jobs' second).
    Their local ids, each with the provider's job id."""
    ids = {}
    videos = [inputs.video, emu.upload(sample_video(2 * VIDEO_SECONDS), "other.mp4")]
    for provider in PROVIDERS:
        client = Client(
            ledger=ledger,
            api_keys={provider: emu.key},
            base_urls={provider: emu.base_url(provider)},
        )
        with client:
            jobs = client.jobs
            assert jobs is not None
            for n in range(2):
                request = JobRequest(video=videos[n], audio=inputs.audio, sync_mode=MODES[provider])
                info, request = client.prepare(provider, request)
                target = str(out / f"{provider}{n}.mp4")
                handle = jobs.submit(provider, info, request, output=target)
                assert handle.local_id is not None
                ids[handle.local_id] = handle.job_id
                # Wait for the render on the emulator's clock, unrecorded: one poll.
                watcher = Client(  # its first poll, 2 s in, finds the 1 s job done
                    clock=emu.clock,
                    ledger=False,
                    api_keys={provider: emu.key},
                    base_urls={provider: emu.base_url(provider)},
                    poll_policy=PollPolicy(first=2.0, jitter=0.0),
                )
                watcher.wait(handle)
    return ids


@pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="tells processes apart by /proc's socket tables"
)
@pytest.mark.parametrize("start", ["one-after-the-other", "together"])
def test_two_resumers_drive_each_job_once(start: str, tmp_path: Path) -> None:
    # Emulator time moves only when a client sleeps on it (the setup's watcher): the jobs
    # are done when the resumers poll. It starts now, so that the result URLs' expiry
    # means the same to the resumers' real clocks (else they would poll for fresh ones).
    clock = CooperativeClock(start=dt.datetime.now(dt.timezone.utc))
    with emulator("poll:hold=2", 1, clock) as emu:
        inputs = upload_inputs(emu)
        out = tmp_path / "out"
        out.mkdir()
        cli = Lipbridge(emu, PROVIDERS, tmp_path / "jobs.sqlite", tmp_path / "logs")
        ids = unfinished_jobs(emu, cli.ledger, out, inputs)
        setup = len(emu.ledger.arrivals)
        try:
            _two_resumers(cli, emu, ids, start, setup)
        finally:
            cli.close()
        # Each job: one poll (the held one) and one download after the setup, no more.
        after = emu.ledger.arrivals[setup:]
        polls = Counter(a.identity for a in after if a.endpoint == "poll")
        assert polls == Counter(ids.values()), polls
        downloads = Counter(a.identity for a in after if a.endpoint == "download")
        assert sorted(downloads.values()) == [1] * len(ids), downloads
        assert emu.ledger.duplicate_submits() == {}
        for job in cli.jobs():
            assert job["state"] == "downloaded", job
            assert Path(job["output_path"]).stat().st_size > 0
        assert len(list(out.iterdir())) == len(ids)  # no .part left


def _two_resumers(
    cli: Lipbridge, emu: Emulator, ids: dict[str, str], start: str, setup: int
) -> None:
    first = cli.start("jobs", "resume", "--all")
    if start == "together":
        second = cli.start("jobs", "resume", "--all")
        both = [first, second]
        held = wait_for_holds(emu, both, len(ids), HoldPoint.POLL)
    else:
        held = wait_for_holds(emu, [first], len(ids), HoldPoint.POLL)
        both = [first, cli.start("jobs", "resume", "--all")]
    # Each job's poll is held by the process that holds its lease: tell them apart by
    # the connection each poll came on.
    owners = socket_owners(p.pid for p in both)
    driver = {h.job_id: owners.get(port_of(h.peer)) for h in held}
    driver_of = {local_id: driver[job_id] for local_id, job_id in ids.items()}
    assert set(driver.values()) <= {p.pid for p in both}, (driver, owners)
    if start == "one-after-the-other":
        assert set(driver.values()) == {first.pid}
    # A process that drives nothing found every job busy, and said so, before any lease
    # was let go; it made no request at all.
    idle = [p for p in both if p.pid not in driver.values()]
    for process in idle:
        finished = process.wait()
        assert finished.returncode == ExitCode.BUSY, finished
        text = finished.stdout + finished.stderr
        for local_id in ids:
            assert local_id in text, finished
        assert text.count("being driven by") >= len(ids), finished
        for pid in set(driver.values()):
            assert f"process {pid}" in text, finished
    assert [a.endpoint for a in emu.ledger.arrivals[setup:] if a.fault != "hold"] == []
    emu.holds.release()
    for process in both:
        finished = process.wait()
        if process in idle:
            continue
        # A driver may also have found the other's jobs busy (and says so: exit 8).
        met_busy = "being driven by" in finished.stderr
        assert finished.returncode == (ExitCode.BUSY if met_busy else ExitCode.OK), finished
        assert "Traceback" not in finished.stderr, finished
        for local_id, pid in driver_of.items():
            if pid == process.pid:
                assert f"{local_id}  downloaded" in finished.stdout, finished
