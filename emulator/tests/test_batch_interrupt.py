"""Ctrl-C during ``lipbridge batch`` (issue 14): SIGINT sent to a real process running
against the emulator.

* Once: nothing more is submitted, the jobs in flight finish and are downloaded, the
  rows never submitted end ``pending`` (exit 130: not finished) and say how to resume;
  ``batch resume ID`` then submits just those.
* Twice: the process exits 130 at once, without waiting for the jobs in flight, and
  says how to resume; ``batch resume ID`` waits for those jobs (no second submit) and
  submits the rest: every row ends downloaded with exactly one job, and the emulator
  saw no duplicate submit.

Each signal is sent once the process has reached an observable point (its jobs' first
polls held by the emulator, its "stopping" line printed), never after a sleep. In the
second case jobs last an hour on a clock the test moves forward, so nothing finishes
until the test says so, however loaded the machine is.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from batch_e2e import (
    DONE,
    BatchCli,
    Manifest,
    RowSpec,
    Watched,
    batch_id_of,
    submits,
    write_manifest,
)
from crash import Finished, JumpingClock, Running, wait_for_holds

from lipbridge.cli import ExitCode
from lipbridge.ledger import Ledger, LedgerJob, LocalState
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import HoldPoint

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a process")

ROWS = 6
CAP = ("--max-concurrent", "foxapi=2")  # two rows in flight; the other four wait
INSTANT = Timing(job_seconds=0, results_lag=0)
HOUR = 3600.0
STOPPING = "stopping: no more submits"


def start(emu: Emulator, root: Path) -> tuple[BatchCli, Manifest, Watched]:
    """``lipbridge batch`` on ROWS FoxAPI rows, stopped at its first two jobs' first polls
    (``poll:hold=1``): both submitted and recorded, the cap full."""
    manifest = write_manifest(
        emu, root / "rows.jsonl", [RowSpec(("foxapi",))] * ROWS, root / "out"
    )
    cli = BatchCli(emu, ("foxapi",), root / "jobs.sqlite", root / "logs")
    run = cli.start_watched("batch", str(manifest.path), "--allow-unknown-cost", *CAP)
    return cli, manifest, run


def interrupt(run: Watched) -> None:
    """Ctrl-C, as the terminal sends it: SIGINT to the process."""
    os.kill(run.pid, signal.SIGINT)


def attempts_of(cli: BatchCli, batch_id: str) -> dict[int, list[LedgerJob]]:
    with Ledger(cli.ledger) as ledger:
        return ledger.batch_attempts(batch_id)


def all_done_once(emu: Emulator, cli: BatchCli, manifest: Manifest, finished: Finished) -> None:
    """Every row has one job, downloaded to its output; the emulator made one job per row
    and saw no submit twice."""
    assert finished.returncode == ExitCode.OK, finished
    attempts = attempts_of(cli, batch_id_of(finished))
    assert sorted(attempts) == sorted(manifest.rows), attempts
    for line, jobs in attempts.items():
        [job] = jobs
        assert job.state is LocalState.DOWNLOADED, job
        assert job.output_path == str(manifest.outputs[line])
        assert manifest.outputs[line].stat().st_size == job.output_size
    assert len(submits(emu)) == len(emu.ledger.accepted) == ROWS
    assert emu.ledger.duplicate_submits() == {}


def outcomes_printed(finished: Finished) -> dict[int, str]:
    """Each row's outcome as its plain line printed it, by line."""
    return {int(m[1]): m[2] for m in DONE.finditer(finished.stderr)}


def test_the_first_ctrl_c_stops_submitting_and_waits_for_the_jobs_in_flight(
    tmp_path: Path,
) -> None:
    with Emulator(timing=INSTANT, faults="poll:hold=1") as emu:
        cli, manifest, run = start(emu, tmp_path)
        try:
            held = wait_for_holds(emu, [run], 2, HoldPoint.POLL)
            interrupt(run)
            run.wait_for_lines(lambda lines: any(STOPPING in s for s in lines), STOPPING)
            for hold in held:  # the two jobs in flight are seen done now, and downloaded
                hold.release()
            stopped = run.wait()
        finally:
            cli.close()
        assert stopped.returncode == ExitCode.INTERRUPTED, stopped
        assert len(submits(emu)) == 2, stopped  # nothing submitted after the Ctrl-C
        batch_id = batch_id_of(stopped)
        ends = outcomes_printed(stopped)
        assert sorted(ends.values()) == ["done"] * 2 + ["pending"] * 4, stopped
        assert (f"stopped: 4 row(s) not submitted; `lipbridge batch resume {batch_id}` "
                "submits them") in stopped.stderr
        attempts = attempts_of(cli, batch_id)  # the pending rows have no job
        done = {line for line, state in ends.items() if state == "done"}
        assert {line: [j.state for j in jobs] for line, jobs in attempts.items()} == {
            line: [LocalState.DOWNLOADED] for line in done
        }, attempts

        emu.holds.disarm()
        resumed = cli.run("batch", "resume", batch_id)
        assert f"resuming batch {batch_id}" in resumed.stderr, resumed
        all_done_once(emu, cli, manifest, resumed)
        assert outcomes_printed(resumed) == dict.fromkeys(manifest.rows, "done"), resumed


def test_the_second_ctrl_c_exits_130_and_resume_finishes_every_row_once(
    tmp_path: Path,
) -> None:
    clock = JumpingClock()
    with Emulator(clock=clock, timing=Timing(job_seconds=HOUR, results_lag=0),
                  faults="poll:hold=1") as emu:
        cli, manifest, run = start(emu, tmp_path)
        try:
            for hold in wait_for_holds(emu, [run], 2, HoldPoint.POLL):
                hold.release()  # answered "processing": the jobs are an hour from done
            interrupt(run)
            run.wait_for_lines(lambda lines: any(STOPPING in s for s in lines), STOPPING)
            interrupt(run)
            left = run.wait()
        finally:
            cli.close()
        assert left.returncode == 130, left
        batch_id = batch_id_of(left)
        assert f"interrupted; resume with `lipbridge batch resume {batch_id}`" in left.stderr
        assert "Traceback" not in left.stderr, left
        assert outcomes_printed(left) == {}, left  # no row ended
        assert len(submits(emu)) == 2
        in_flight = attempts_of(cli, batch_id)
        assert len(in_flight) == 2, in_flight
        assert {jobs[0].state for jobs in in_flight.values()} <= {
            LocalState.QUEUED, LocalState.RUNNING
        }, in_flight
        assert [jobs[0].lease_owner for jobs in in_flight.values()] == [None, None]  # let go

        clock.jump(HOUR)  # the two jobs left in flight are done now
        resume = cli.start("batch", "resume", batch_id)
        try:
            finish_new_jobs(emu, clock, resume, range(3, ROWS + 1))
            resumed = resume.wait()
        finally:
            cli.close()
        all_done_once(emu, cli, manifest, resumed)
        for line, jobs in attempts_of(cli, batch_id).items():
            if line in in_flight:  # waited for and downloaded, not submitted again
                assert jobs[0].local_id == in_flight[line][0].local_id


def finish_new_jobs(emu: Emulator, clock: JumpingClock, resume: Running, counts: range) -> None:
    """Each new job's first poll is held: move the clock an hour on, then let it through,
    so that it sees the job done."""
    for count in counts:
        held = wait_for_holds(emu, [resume], count, HoldPoint.POLL)[-1]
        clock.jump(HOUR)
        held.release()
