"""``lipbridge batch --engine temporal`` on two worker processes; one is killed with
SIGKILL while each of them is in the middle of four submits.

The other finishes every row, and the emulator made one job per row: the dead worker's
submits are taken up again under their idempotency key (the job's local id), which the
provider answers with the job it already made. The command shows the local batch's
progress lines and report, writes every job back to its own ledger (``jobs list``), and
run again it watches the same batch and starts nothing."""

from __future__ import annotations

from pathlib import Path

from batch_e2e import DONE
from temporal_harness import PATIENCE, PROVIDER, cluster_cli, manifest, start_workers

from lipbridge.cli import ExitCode
from lipbridge.ledger import Ledger, LocalState
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import HoldEnd, HoldPoint
from lipbridge_temporal.devserver import DevServer

ROWS = 8
SLOTS = ("--max-activities", "4", "--handover", "1")  # 4 submits each: 8 held at once


def test_a_worker_killed_mid_submit_leaves_every_row_done_exactly_once(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    # Every job's first submit is held after the provider made the job, its answer unsent.
    with Emulator(timing=Timing(job_seconds=0, results_lag=0), faults="submit:hold-after=1") as emu:
        a, b = start_workers(emu, tmp_path, ["a", "b"], address, namespace, *SLOTS)
        # The SDK sends a heartbeat at most every 80 % of the liveness: at 3 s, a survivor
        # late by 0.6 s on a loaded machine counted as dead and its held submit was retried.
        cli = cluster_cli(
            emu, tmp_path, "cli", address, namespace, LIPBRIDGE_TEMPORAL_LIVENESS="8"
        )
        rows = manifest(emu, tmp_path / "rows.jsonl", ROWS, tmp_path / "out")
        args = (
            "batch",
            str(rows),
            "--allow-unknown-cost",
            "--engine",
            "temporal",
            "--max-concurrent",
            f"{PROVIDER}={ROWS}",
        )
        try:
            batch = cli.start_watched(*args)
            emu.holds.wait(ROWS, point=HoldPoint.SUBMIT_AFTER, timeout=PATIENCE)
            a.kill()  # four of its submits made jobs whose answers it never read
            emu.holds.disarm()
            emu.holds.release()  # b's four go on
            first = batch.wait()
            again = cli.run(*args)
            listed = cli.jobs()
        finally:
            b.kill()
        held = emu.holds.reached()
        arrivals, accepted, _ = emu.ledger.snapshot()

    ends = sorted(h.end.value for h in held if h.end is not None)
    assert ends == [HoldEnd.GONE.value] * 4 + [HoldEnd.RELEASED.value] * 4, held
    assert first.returncode == ExitCode.OK, first
    printed = {int(m[1]): m[2] for m in DONE.finditer(first.stderr)}
    assert printed == dict.fromkeys(range(1, ROWS + 1), "done"), first
    assert f"{ROWS} done" in first.stdout, first
    assert again.returncode == ExitCode.OK, again
    assert "(continued)" in again.stderr
    # One job per row at the provider, though twelve submits arrived.
    made = [a.job_id for a in accepted]
    assert len(made) == len(set(made)) == ROWS
    assert len({a.fingerprint for a in accepted}) == ROWS
    assert sum(x.endpoint == "submit" for x in arrivals) == ROWS + 4
    # The command's ledger has every row's job, downloaded, with the provider's job id.
    assert sorted(job["provider_job_id"] for job in listed) == sorted(made)
    assert {job["state"] for job in listed} == {"downloaded"}
    # So has the survivor's, under the same local ids, each job's steps recorded there.
    with Ledger(tmp_path / "b.sqlite") as ledger:
        for job in listed:
            kept = ledger.get(job["local_id"])
            assert kept.state is LocalState.DOWNLOADED, kept
            assert kept.provider_job_id == job["provider_job_id"]
            assert kept.output_path == job["output_path"]
