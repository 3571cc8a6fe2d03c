"""Stopping: a batch told to ``stop`` (the first Ctrl-C of ``batch --engine temporal``)
starts no more rows, lets the job in flight finish and waits; ``resume`` (the same
command again) starts the rest. A job told to ``cancel`` after its submit asks the
provider's cancel, follows the job to its end and gives its cap slot back."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from batch_e2e import DONE
from temporal_harness import (
    PATIENCE,
    cluster_cli,
    connect,
    local_client,
    manifest,
    requests,
    start_workers,
)

from lipbridge.cli import ExitCode
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import HoldPoint
from lipbridge_temporal.cap import CapWorkflow
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import batch_workflow_id, cap_workflow_id
from lipbridge_temporal.starter import cancel_job, job_spec, start_job
from lipbridge_temporal.workflows import BatchWorkflow, JobWorkflow


async def until(
    what: str, check: Callable[[], Awaitable[bool]], deadline: float = PATIENCE
) -> None:
    """Ask ``check`` until it is true; the deadline only stops a broken test from
    hanging."""
    end = time.monotonic() + deadline
    while not await check():
        assert time.monotonic() < end, f"waited too long for {what}"
        await asyncio.sleep(0.05)


def test_the_first_ctrl_c_starts_no_more_rows_and_the_same_command_resumes(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    timing = Timing(job_seconds=0, results_lag=0)
    with Emulator(timing=timing, faults="submit:hold-before=1") as emu:
        [worker] = start_workers(emu, tmp_path, ["a"], address, namespace)
        cli = cluster_cli(emu, tmp_path, "cli", address, namespace)
        rows = manifest(emu, tmp_path / "rows.jsonl", 3, tmp_path / "out")
        args = ("batch", str(rows), "--allow-unknown-cost", "--engine", "temporal")
        args += ("--max-total", "1")  # one row in flight: the stop finds two not started

        def submits() -> int:
            return sum(a.endpoint == "submit" for a in emu.ledger.snapshot()[0])

        async def stopped(batch_id: str) -> None:
            temporal = await connect(address, namespace)
            part = temporal.get_workflow_handle_for(
                BatchWorkflow.run, batch_workflow_id(f"{batch_id}-1")
            )

            async def told() -> bool:
                return (await part.query(BatchWorkflow.progress, 0)).stopped

            await until("the stop to reach the batch", told)

        try:
            batch = cli.start_watched(*args)
            emu.holds.wait(1, point=HoldPoint.SUBMIT_BEFORE, timeout=PATIENCE)
            os.kill(batch.pid, signal.SIGINT)
            lines = batch.wait_for_lines(lambda ls: any("stopping:" in ln for ln in ls), "stop")
            batch_id = next(m[1] for ln in lines if (m := re.match(r"batch (\w+)", ln)))
            asyncio.run(stopped(batch_id))
            emu.holds.disarm()
            emu.holds.release()  # the row in flight goes on; no other starts
            first = batch.wait()
            sent = submits()
            again = cli.run(*args)
            listed = cli.jobs()
        finally:
            worker.kill()
        total = submits()
    assert first.returncode == ExitCode.INTERRUPTED, first
    assert {int(m[1]): m[2] for m in DONE.finditer(first.stderr)} == {
        1: "done",
        2: "pending",
        3: "pending",
    }, first
    assert "2 row(s) not started; the same command again starts them" in first.stderr
    assert sent == 1, "a row was started after the stop"
    assert again.returncode == ExitCode.OK, again
    assert sorted(job["state"] for job in listed) == ["downloaded"] * 3
    assert total == 3


def test_a_cancelled_job_is_cancelled_at_the_provider_and_gives_its_slot_back(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    provider = "replicate"  # its models take a cancel
    with Emulator(timing=Timing(job_seconds=600, results_lag=0)) as emu:
        [worker] = start_workers(emu, tmp_path, ["a"], address, namespace, providers=[provider])
        [request] = requests(emu, 1)
        spec = job_spec(local_client(emu, provider), provider, request, cap=1)

        async def main() -> tuple[str, str | None, list[str]]:
            temporal = await connect(address, namespace)
            job = await start_job(temporal, spec)

            async def running() -> bool:
                return await job.query(JobWorkflow.phase_of) == "running"

            await until("the job to be submitted", running)
            await cancel_job(temporal, spec.local_id)
            outcome = await asyncio.wait_for(job.result(), PATIENCE)
            cap = temporal.get_workflow_handle_for(CapWorkflow.run, cap_workflow_id(provider))

            async def released() -> bool:
                return not await cap.query(CapWorkflow.holders)

            await until("the slot to be given back", released)
            return outcome.state, outcome.error, await cap.query(CapWorkflow.holders)

        try:
            state, error, holders = asyncio.run(main())
        finally:
            worker.kill()
        cancels = [a for a in emu.ledger.snapshot()[0] if a.endpoint == "cancel"]
    assert state == "failed", error
    assert "cancel" in (error or "").lower()
    assert len(cancels) == 1
    assert holders == []
