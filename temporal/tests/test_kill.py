"""Two worker processes run one batch; one is killed with SIGKILL while each of them is
in the middle of four submits. The other finishes every job, and the emulator made one
job per row: the dead worker's submits are taken up again under their idempotency key
(the job's local id), which the provider answers with the job it already made."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporal_harness import PATIENCE, PROVIDER, connect, specs, start_workers

from lipbridge.ledger import Ledger, LocalState
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import HoldEnd, HoldPoint
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.specs import Outcome
from lipbridge_temporal.starter import start_batch

ROWS = 8
SLOTS = ("--max-activities", "4", "--handover", "1")  # 4 submits each: 8 held at once


def test_a_worker_killed_mid_submit_leaves_every_job_done_exactly_once(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    # Every job's first submit is held after the provider made the job, its answer unsent.
    with Emulator(timing=Timing(job_seconds=0, results_lag=0), faults="submit:hold-after=1") as emu:
        a, b = start_workers(emu, tmp_path, ["a", "b"], address, namespace, *SLOTS)
        jobs = specs(emu, tmp_path / "out", ROWS, cap=ROWS, liveness=3.0)

        async def main() -> list[Outcome]:
            temporal = await connect(address, namespace)
            batch = await start_batch(temporal, "kill9", jobs)
            await asyncio.to_thread(
                emu.holds.wait, ROWS, point=HoldPoint.SUBMIT_AFTER, timeout=PATIENCE
            )
            a.kill()  # four of its submits made jobs whose answers it never read
            emu.holds.disarm()
            emu.holds.release()  # b's four go on
            return await asyncio.wait_for(batch.result(), PATIENCE)

        try:
            outcomes = asyncio.run(main())
        finally:
            b.kill()
        held = emu.holds.reached()
        arrivals, accepted, _ = emu.ledger.snapshot()

    ends = sorted(h.end.value for h in held if h.end is not None)
    assert ends == [HoldEnd.GONE.value] * 4 + [HoldEnd.RELEASED.value] * 4, held
    assert sorted(o.state for o in outcomes) == ["done"] * ROWS, outcomes
    # One job per row at the provider, though twelve submits arrived.
    made = [a.job_id for a in accepted]
    assert len(made) == len(set(made)) == ROWS
    assert len({a.fingerprint for a in accepted}) == ROWS
    assert sorted(o.provider_job_id or "" for o in outcomes) == sorted(made)
    submits = [x for x in arrivals if x.endpoint == "submit"]
    assert len(submits) == ROWS + 4
    # The survivor's ledger has every job, downloaded once, under the workflow's local id.
    with Ledger(tmp_path / "b.sqlite") as ledger:
        for spec, outcome in zip(
            sorted(jobs, key=lambda s: s.local_id),
            sorted(outcomes, key=lambda o: o.local_id),
            strict=True,
        ):
            job = ledger.get(spec.local_id)
            assert job.state is LocalState.DOWNLOADED, job
            assert job.provider == PROVIDER
            assert job.provider_job_id == outcome.provider_job_id
            assert Path(spec.output or "").is_file()
