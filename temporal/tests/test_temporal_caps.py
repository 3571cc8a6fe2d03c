"""A provider's cap holds across workers: two worker processes, four jobs, a cap of two.
While the first two jobs' first polls are held at the emulator, exactly two submits
have arrived and the cap workflow holds two slots with two jobs waiting; in the end no
more than two jobs were ever in flight at once (the emulator's own record). The batch
continues as new after starting two jobs; those two tell the next run their ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from batch_e2e import peaks
from temporal_harness import PATIENCE, PROVIDER, connect, specs, start_workers

from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import HoldPoint
from lipbridge_temporal.cap import CapWorkflow
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import cap_workflow_id
from lipbridge_temporal.specs import Outcome
from lipbridge_temporal.starter import start_batch

ROWS, CAP = 4, 2


def test_the_cap_on_jobs_in_flight_holds_across_workers(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    with Emulator(timing=Timing(job_seconds=0, results_lag=0), faults="poll:hold=1") as emu:
        workers = start_workers(emu, tmp_path, ["a", "b"], address, namespace, "--handover", "1")
        jobs = specs(emu, tmp_path / "out", ROWS, cap=CAP)

        async def main() -> tuple[int, list[str], list[Outcome]]:
            temporal = await connect(address, namespace)
            batch = await start_batch(temporal, "caps", jobs, continue_after=CAP)
            await asyncio.to_thread(emu.holds.wait, CAP, point=HoldPoint.POLL, timeout=PATIENCE)
            submitted = sum(a.endpoint == "submit" for a in emu.ledger.snapshot()[0])
            cap = temporal.get_workflow_handle_for(CapWorkflow.run, cap_workflow_id(PROVIDER))
            holders = await cap.query(CapWorkflow.holders)
            emu.holds.disarm()
            emu.holds.release()
            outcomes = await asyncio.wait_for(batch.result(), PATIENCE)
            first_run = temporal.get_workflow_handle(batch.id, run_id=batch.first_execution_run_id)
            events = (await first_run.fetch_history()).events
            assert events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
            return submitted, holders, outcomes

        try:
            submitted, holders, outcomes = asyncio.run(main())
        finally:
            for worker in workers:
                worker.kill()
        most = peaks(emu)
    assert submitted == CAP
    assert len(holders) == CAP
    assert sorted(o.state for o in outcomes) == ["done"] * ROWS, outcomes
    assert most[PROVIDER] == CAP, most
