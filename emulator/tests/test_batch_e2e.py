"""Batches end to end (issue 14, Proof): ``lipbridge batch`` as real processes against the
emulator.

* A batch of 8 rows on FoxAPI and JoggAI killed with SIGKILL mid-run (3 rows downloaded,
  4 submitted and waiting, 1 submit accepted with its answer lost, which JoggAI's lookup
  finds again), then the same command again, or ``batch resume ID``: every row ends
  downloaded exactly once, each with one job, and the emulator saw no duplicate submit;
  a third run sends nothing at all.
* Caps: with ``--max-concurrent foxapi=2 --max-total 3`` the emulator's own record (each
  job from its acceptance to the fetch of its video) never has more in flight.
* A budget refusal (prices unknown without ``--allow-unknown-cost``) sends nothing and
  exits 2.
* Fallback moves a row on the refusals before acceptance (insufficient credits, 503 on
  submit, 429 past what the client waits; an option a provider lacks skips it at
  planning), never after acceptance (a job that fails) or an unknown outcome (the
  connection reset after the job was made), not even when run again.
* Invalid manifests are refused with their line numbers and fields; nothing is sent.

The emulator runs in this process on the real clock (the processes' polls wait real
seconds: the first comes 1.5 s or so after a submit) and finishes jobs at once; hold
faults (docs/emulator.md) stop each request where the kill test needs it, and the test
waits for holds and for the rows' progress lines on conditions, never by sleeping. The
cases are independent (their own emulator, ledger and files) and run side by side.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from batch_e2e import (
    BatchCli,
    Manifest,
    RowSpec,
    batch_id_of,
    peaks,
    side_by_side,
    submits,
    write_manifest,
)
from crash import Finished, wait_for_holds

from lipbridge.cli import ExitCode
from lipbridge.ledger import Ledger, LedgerJob, LocalState
from lipbridge.ledger.records import EventKind
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import Held, HoldEnd, HoldPoint

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")

PROVIDERS = ("aihubmax", "aimlapi", "foxapi", "jogg")
INSTANT = Timing(job_seconds=0, results_lag=0)  # jobs done at once: the polls set the pace
FOREIGN_VIDEO = "https://media.example.com/face.mp4"  # the emulator fetches only from itself


def batch_cli(emu: Emulator, root: Path) -> BatchCli:
    return BatchCli(emu, PROVIDERS, root / "jobs.sqlite", root / "logs")


def attempts_of(cli: BatchCli, batch_id: str) -> dict[int, list[LedgerJob]]:
    """Each row's jobs, oldest first, read from the ledger file as another process would."""
    with Ledger(cli.ledger) as ledger:
        return ledger.batch_attempts(batch_id)


def events_of(cli: BatchCli, local_id: str) -> list[EventKind]:
    with Ledger(cli.ledger) as ledger:
        return [event.kind for event in ledger.events(local_id)]


def nothing_sent(emu: Emulator) -> None:
    arrivals = emu.ledger.snapshot()[0]
    assert arrivals == [], arrivals


def check_saved_once(emu: Emulator, manifest: Manifest, line: int, job: LedgerJob) -> None:
    """The row's file is the provider's video for its job, recorded as downloaded."""
    output = manifest.outputs[line]
    data = output.read_bytes()
    assert job.state is LocalState.DOWNLOADED, job
    assert (job.output_path, job.output_size) == (str(output), len(data))
    [made] = [j for j in emu.jobs(job.provider) if j.id == job.provider_job_id]
    assert made.output_url is not None
    assert data == emu.store.read(made.output_url.split("/")[-2])


# -- kill -9 mid-run, then the same command again or `batch resume ID` ----------------------


def killed_mid_run_then_continued(how: str, root: Path) -> None:
    with Emulator(faults="submit:hold-after=1;poll:hold=1", timing=INSTANT) as emu:
        specs = [RowSpec((("foxapi", "jogg")[n % 2],)) for n in range(8)]
        manifest = write_manifest(emu, root / "rows.jsonl", specs, root / "out")
        cli = batch_cli(emu, root)
        try:
            _killed_mid_run_then_continued(how, emu, cli, manifest)
        finally:
            cli.close()


def _killed_mid_run_then_continued(
    how: str, emu: Emulator, cli: BatchCli, manifest: Manifest
) -> None:
    args = (
        "batch", str(manifest.path), "--allow-unknown-cost",
        "--max-concurrent", "foxapi=3", "--max-concurrent", "jogg=3",
    )
    run = cli.start_watched(*args)

    # 1. Three rows per provider are submitted (the caps) and held once accepted. All
    #    answers but one JoggAI row's go out; that one stays in flight.
    first = wait_for_holds(emu, [run], 6, HoldPoint.SUBMIT_AFTER)
    assert Counter(h.provider for h in first) == {"foxapi": 3, "jogg": 3}
    lost = next(h for h in first if h.provider == "jogg")
    for held in first:
        if held is not lost:
            held.release()

    # 2. The five answered jobs are polled, each first poll held. Two FoxAPI rows and one
    #    JoggAI row are let through: they are done, downloaded and printed as done.
    polls = wait_for_holds(emu, [run], 5, HoldPoint.POLL)
    submitted = [h for h in emu.holds.reached() if h.point is HoldPoint.SUBMIT_AFTER]
    assert len(submitted) == 6  # no row finished yet: the caps let no other in
    finishing = [h for h in polls if h.provider == "foxapi"][:2]
    finishing += [h for h in polls if h.provider == "jogg"][:1]
    for held in finishing:
        held.release()
    run.wait_for_lines(lambda _: sum(s == "done" for s in run.outcomes().values()) == 3,
                       "three rows done")

    # 3. The places they left go to the last FoxAPI and JoggAI rows: submitted, answered,
    #    and their first polls held too. Then the process is killed.
    later = wait_for_holds(emu, [run], 8, HoldPoint.SUBMIT_AFTER)[6:]
    for held in later:
        held.release()
    waiting = wait_for_holds(emu, [run], 7, HoldPoint.POLL)
    run.kill()
    assert lost.wait_ended() is HoldEnd.GONE
    emu.holds.disarm()
    batch_id = batch_id_of(run.finished())
    killed_at_provider(emu, cli, manifest, batch_id, lost, [*finishing], waiting)

    # 4. The same command again, or `batch resume ID`, finishes every row.
    before = len(submits(emu))
    resumed = cli.run(*args) if how == "again" else cli.run("batch", "resume", batch_id)
    assert resumed.returncode == ExitCode.OK, resumed
    assert len(submits(emu)) == before == 8  # nothing submitted again
    attempts = attempts_of(cli, batch_id)
    assert sorted(attempts) == sorted(manifest.rows)
    for line, jobs in attempts.items():
        [job] = jobs  # one job per row: exactly once
        check_saved_once(emu, manifest, line, job)
    assert emu.ledger.duplicate_submits() == {}
    assert len(emu.ledger.accepted) == 8
    fetches = Counter(Path(a.path).stem for a in emu.ledger.snapshot()[0]
                      if a.endpoint == "download" and a.status == 200)
    assert fetches == Counter({j.job_id: 1 for j in emu.ledger.accepted}), fetches
    [found] = [jobs[0] for jobs in attempts.values() if jobs[0].provider_job_id == lost.job_id]
    assert EventKind.RECONCILED in events_of(cli, found.local_id)  # JoggAI's lookup found it

    # 5. Once more: every row is done already, and nothing at all is sent.
    mark = len(emu.ledger.snapshot()[0])
    again = cli.run(*args)
    assert again.returncode == ExitCode.OK, again
    assert "(continued)" in again.stderr and again.stderr.count(" done (") == 8, again
    assert emu.ledger.snapshot()[0][mark:] == []


def killed_at_provider(
    emu: Emulator,
    cli: BatchCli,
    manifest: Manifest,
    batch_id: str,
    lost: Held,
    finished: list[Held],
    waiting: list[Held],
) -> None:
    """What the dead process left: 3 rows downloaded, 4 waiting, 1 whose answer was lost."""
    attempts = attempts_of(cli, batch_id)
    states = Counter(jobs[-1].state.value for jobs in attempts.values())
    assert states == {"downloaded": 3, "queued": 4, "unknown": 1}, attempts
    by_job = {jobs[-1].provider_job_id: jobs[-1] for jobs in attempts.values()}
    assert {by_job[h.job_id].state for h in finished} == {LocalState.DOWNLOADED}
    unanswered = [a for a in emu.ledger.accepted if not a.answered]
    assert [a.job_id for a in unanswered] == [lost.job_id]
    assert len(emu.ledger.accepted) == 8
    assert {h.job_id for h in waiting} - {h.job_id for h in finished} == {
        j for j, job in by_job.items() if job.state is LocalState.QUEUED
    }


# -- caps -------------------------------------------------------------------------------------


def caps_hold(root: Path) -> None:
    with Emulator(timing=INSTANT) as emu:
        specs = [RowSpec(("foxapi",))] * 6 + [RowSpec(("jogg",))] * 3
        manifest = write_manifest(emu, root / "rows.jsonl", specs, root / "out")
        cli = batch_cli(emu, root)
        finished = cli.run(
            "batch", str(manifest.path), "--allow-unknown-cost",
            "--max-concurrent", "foxapi=2", "--max-total", "3",
        )
        assert finished.returncode == ExitCode.OK, finished
        assert len(emu.ledger.accepted) == 9 and emu.ledger.duplicate_submits() == {}
        most = peaks(emu)
        # The caps are reached (else this proves nothing) and never exceeded.
        assert most["foxapi"] == 2 and most["*"] == 3 and most["jogg"] <= 3, most


# -- budget -----------------------------------------------------------------------------------


def budget_refused(root: Path) -> None:
    with Emulator(timing=INSTANT) as emu:
        specs = [RowSpec(("foxapi",)), RowSpec(("jogg",)), RowSpec(("aimlapi", "jogg"))]
        manifest = write_manifest(emu, root / "rows.jsonl", specs, root / "out")
        cli = batch_cli(emu, root)
        for budget in ([], ["--max-cost", "100"]):
            refused = cli.run("batch", str(manifest.path), *budget)
            assert refused.returncode == ExitCode.USAGE, refused
            assert "3 row(s) have no known price in USD; nothing was sent" in refused.stderr
            assert "--allow-unknown-cost" in refused.stderr and "Traceback" not in refused.stderr
            assert "batch " not in refused.stderr  # no batch was recorded
        planned = cli.run("batch", str(manifest.path), "--dry-run")
        assert planned.returncode == ExitCode.OK, planned
        assert "plan: 3 rows" in planned.stdout
        nothing_sent(emu)
        assert cli.jobs() == []


# -- fallback ---------------------------------------------------------------------------------


def fallback_before_acceptance_only(root: Path) -> None:
    faults = "submit@aihubmax:5xx=1@503;submit@aimlapi:reset-after=1"
    # FoxAPI's balance pays for no job of these inputs; one that fails at once costs nothing.
    with Emulator(timing=INSTANT, faults=faults, credits={"foxapi": 1}) as emu:
        specs = [
            RowSpec(("foxapi", "jogg")),  # 1: insufficient credits: to JoggAI
            RowSpec(("foxapi", "jogg"), video=FOREIGN_VIDEO),  # 2: accepted, then fails
            RowSpec(("aihubmax", "jogg")),  # 3: 503 on submit: to JoggAI
            RowSpec(("aimlapi", "jogg")),  # 4: accepted, answer lost: unknown, stays
        ]
        manifest = write_manifest(emu, root / "rows.jsonl", specs, root / "out")
        cli = batch_cli(emu, root)
        args = ("batch", str(manifest.path), "--allow-unknown-cost", "--json")
        finished = cli.run(*args)
        assert finished.returncode == ExitCode.JOB_FAILED, finished  # the worst row's
        expected = {
            1: ("done", "jogg", ["foxapi", "jogg"]),
            2: ("failed", "foxapi", ["foxapi"]),
            3: ("done", "jogg", ["aihubmax", "jogg"]),
            4: ("unknown", "aimlapi", ["aimlapi"]),
        }
        assert report(finished) == expected, finished
        batch_id = batch_id_of(finished)
        attempts = attempts_of(cli, batch_id)
        recorded = {
            line: [(j.provider, j.state.value, j.error_class) for j in jobs]
            for line, jobs in attempts.items()
        }
        assert recorded == {
            1: [("foxapi", "rejected", "InsufficientCredits"), ("jogg", "downloaded", None)],
            2: [("foxapi", "failed", "JobFailed")],
            3: [("aihubmax", "rejected", "ProviderUnavailable"), ("jogg", "downloaded", None)],
            4: [("aimlapi", "unknown", "SubmitOutcomeUnknown")],
        }, recorded
        check_saved_once(emu, manifest, 1, attempts[1][-1])
        check_saved_once(emu, manifest, 3, attempts[3][-1])
        took = {p: sorted(manifest.line_of_audio(j.spec.audio) for j in emu.jobs(p))
                for p in PROVIDERS}
        assert took == {"aihubmax": [], "aimlapi": [4], "foxapi": [2], "jogg": [1, 3]}, took
        assert [a.answered for a in emu.ledger.accepted if a.provider == "aimlapi"] == [False]

        # Again: the failed row is not retried (no --retry-failed), the unknown one is
        # left for the user to reconcile; neither moves, and nothing is submitted.
        before = len(submits(emu))
        again = cli.run(*args)
        assert again.returncode == ExitCode.JOB_FAILED, again
        assert report(again) == expected, again
        assert len(submits(emu)) == before
        assert f"lipbridge jobs reconcile {attempts[4][0].local_id}" in again.stdout, again


def fallback_past_rate_limits_and_planning(root: Path) -> None:
    # AIHubMax rate-limits every submit for 3 s at a time; rows have 8 s to get past it.
    with Emulator(timing=INSTANT, faults="submit@aihubmax:429=1@3") as emu:
        specs = [
            RowSpec(("aihubmax", "jogg")),  # 1: waits the 429s out, then moves to JoggAI
            RowSpec(("aihubmax",)),  # 2: the same, with nothing to move to: rejected
            # 3: JoggAI's model takes no temperature: planned on FoxAPI, nothing sent to it
            RowSpec(("jogg", "foxapi"), extra={"temperature": 0.5, "sync_mode": "loop"}),
        ]
        manifest = write_manifest(emu, root / "rows.jsonl", specs, root / "out")
        cli = batch_cli(emu, root)
        args = ("batch", str(manifest.path), "--allow-unknown-cost", "--json")
        finished = cli.run(*args, "--timeout", "8")
        assert finished.returncode == ExitCode.PROVIDER, finished  # the rejected row
        rows = report(finished)
        assert (rows[1][0], rows[1][1], rows[1][2][-1]) == ("done", "jogg", "jogg"), rows
        assert rows[2][:2] == ("rejected", None), rows  # no provider took it
        assert rows[3] == ("done", "foxapi", ["foxapi"]), rows
        for line in (1, 2):  # asked again after each Retry-After, until the deadline
            tried = rows[line][2]
            assert len([p for p in tried if p == "aihubmax"]) >= 2, rows
            assert set(tried) - {"aihubmax", "jogg"} == set() and tried[0] == "aihubmax"
        assert emu.ledger.retry_after_violations() == []
        assert "line 3: not on jogg:" in finished.stderr, finished
        batch_id = batch_id_of(finished)
        attempts = attempts_of(cli, batch_id)
        assert {(j.provider, j.state.value, j.error_class) for j in attempts[2]} == {
            ("aihubmax", "rejected", "RateLimited")
        }
        assert sorted(a.provider for a in emu.ledger.accepted) == ["foxapi", "jogg"]
        assert Counter(a.provider for a in submits(emu))["jogg"] == 1
        # Again, with less time (2 s, so a window of 3 s is not waited out, but what is
        # left of the last one may be): the refused row is asked again, from its first
        # provider; the rows that are done are left alone.
        before = Counter(a.provider for a in submits(emu))
        again = cli.run(*args, "--timeout", "2")
        assert again.returncode == ExitCode.PROVIDER, again
        asked = Counter(a.provider for a in submits(emu)) - before
        assert set(asked) == {"aihubmax"}, asked
        state, provider, tried = report(again)[2]
        assert (state, provider) == ("rejected", None), again
        assert tried == [*rows[2][2], *["aihubmax"] * asked["aihubmax"]], again
        assert len(attempts_of(cli, batch_id)[2]) == len(attempts[2]) + asked["aihubmax"]


def report(finished: Finished) -> dict[int, tuple[str, str | None, list[str]]]:
    """The ``--json`` report's rows: state, provider, providers tried."""
    data: dict[str, Any] = json.loads(finished.stdout)
    return {r["line"]: (r["state"], r["provider"], r["attempts"]) for r in data["rows"]}


# -- invalid manifests ------------------------------------------------------------------------


def invalid_manifests_refused(root: Path) -> None:
    with Emulator(timing=INSTANT) as emu:
        cli = batch_cli(emu, root)
        good = write_manifest(emu, root / "good.jsonl", [RowSpec(("foxapi",))], root / "out")
        row = good.rows[1]
        video, audio = row["video"], row["audio"]
        csv = root / "rows.csv"
        csv.write_text(
            "video,audio,provider,sync_mode,temperature,output\n"
            f"{video},{audio},foxapi,loop,,{root}/out/1.mp4\n"  # 2: fine
            f"{video},,foxapi,loop,,{root}/out/2.mp4\n"  # 3: no audio
            f"{video},{audio},foxapi,loop,hot,{root}/out/3.mp4\n"  # 4: not a number
            f"{video},{audio},foxapi,loop,,{root}/out/4.mp4,extra\n"  # 5: a cell too many
            f"{video},{audio},foxapi,loop,,{root}/out/1.mp4\n"  # 6: line 2's output
        )
        refused = cli.run("batch", str(csv), "--allow-unknown-cost")
        assert refused.returncode == ExitCode.USAGE, refused
        for said in ("4 invalid row(s), nothing was sent", "line 3, audio:",
                     "line 4, temperature:", "line 5, row: more cells than columns",
                     "line 6, output:", "is also line 2's output"):
            assert said in refused.stderr, refused
        # Rows that parse but that no provider can run are refused the same way.
        planned = root / "plan.jsonl"
        planned.write_text(
            f'{{"video": "{video}", "audio": "{audio}", "provider": "foxapi"}}\n'
            f'{{"video": "{video}", "audio": "{audio}", "provider": "nosuch"}}\n'
            f'{{"video": "{video}", "audio": "{audio}", "provider": "jogg", '
            f'"sync_mode": "remap"}}\n'
            f'{{"video": "{video}", "audio": "{audio}", "provider": "foxapi", '
            f'"model": "sync-3", "temperature": 0.5}}\n'
        )
        refused = cli.run("batch", str(planned), "--allow-unknown-cost")
        assert refused.returncode == ExitCode.USAGE, refused
        for said in ("3 invalid row(s), nothing was sent", "line 2, provider:", "nosuch",
                     "line 3, provider: no provider can run it (jogg:",
                     "line 4, provider: no provider can run it (foxapi:"):
            assert said in refused.stderr, refused
        nothing_sent(emu)
        assert cli.jobs() == []
        # --skip-invalid runs the rest, and says what it skipped.
        ran = cli.run("batch", str(planned), "--allow-unknown-cost", "--skip-invalid")
        assert ran.returncode == ExitCode.OK, ran
        assert ran.stderr.count("skipped: line ") == 3, ran
        [accepted] = emu.ledger.accepted
        assert accepted.provider == "foxapi"


# -- running the cases side by side -------------------------------------------------------------

CASES: dict[str, Callable[[Path], None]] = {
    "kill-9-then-again": lambda root: killed_mid_run_then_continued("again", root),
    "kill-9-then-resume": lambda root: killed_mid_run_then_continued("resume", root),
    "caps": caps_hold,
    "budget": budget_refused,
    "fallback-refusals": fallback_before_acceptance_only,
    "fallback-rate-limit-and-plan": fallback_past_rate_limits_and_planning,
    "invalid-manifests": invalid_manifests_refused,
}


@pytest.fixture(scope="module")
def cases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[None]]]:
    """The selected cases, all started at once; each test waits for its own."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]
    with side_by_side(CASES, selected, tmp_path_factory.mktemp) as started:
        yield started


@pytest.mark.parametrize("case", list(CASES))
def test_batch_end_to_end(cases: dict[str, Future[None]], case: str) -> None:
    cases[case].result()
