"""One job end to end: started on the cluster, run by a ``lipbridge worker`` process
against the emulator, recorded in the worker's ledger; starting it again is refused by
the server, even once it has ended."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from temporal_harness import PROVIDER, connect, run_jobs, specs, start_workers
from temporalio.exceptions import WorkflowAlreadyStartedError

from lipbridge.ledger import Ledger, LocalState
from lipbridge_emulator import Emulator, Timing
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.specs import Outcome
from lipbridge_temporal.starter import start_job

INSTANT = Timing(job_seconds=0, results_lag=0)


def test_a_job_runs_through_a_worker_and_lands_in_its_ledger(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    with Emulator(timing=INSTANT) as emu:
        [worker] = start_workers(emu, tmp_path, ["w1"], temporal_server.address, namespace)
        try:
            [spec] = specs(emu, tmp_path, 1)

            async def main() -> list[Outcome]:
                temporal = await connect(temporal_server.address, namespace)
                done = await run_jobs(temporal, [spec])
                with pytest.raises(WorkflowAlreadyStartedError):  # the same job, started again
                    await start_job(temporal, spec)
                return done

            [outcome] = asyncio.run(main())
        finally:
            worker.kill()
        accepted = emu.ledger.snapshot()[1]
    assert outcome.state == "done", outcome
    saved = Path(spec.output or "")
    assert outcome.output == str(saved)
    assert outcome.sha256 == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert [a.job_id for a in accepted] == [outcome.provider_job_id]
    with Ledger(tmp_path / "w1.sqlite") as ledger:
        job = ledger.get(spec.local_id)
    assert job.provider == PROVIDER
    assert job.state is LocalState.DOWNLOADED
    assert job.provider_job_id == outcome.provider_job_id
    assert job.output_sha256 == outcome.sha256
