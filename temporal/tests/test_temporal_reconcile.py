"""A submit without an idempotency key is never sent twice: a worker killed while its
submit was on the wire (the provider made the job, the answer was never read) leaves it
to the core's reconciliation on another worker. JoggAI's lookup finds the job made from
the same inputs, which is then followed to the end; FoxAPI has no lookup, so its job
ends ``unknown`` with how to reconcile it. Each provider saw exactly one submit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporal_harness import PATIENCE, connect, local_client, requests, start_workers

from lipbridge.ledger import Ledger, LocalState
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.holds import HoldEnd, HoldPoint
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.specs import Outcome
from lipbridge_temporal.starter import job_spec, start_job

UNKEYED = ("jogg", "foxapi")  # with a lookup, without one


def test_a_lost_unkeyed_submit_is_reconciled_not_sent_again(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    with Emulator(timing=Timing(job_seconds=0, results_lag=0), faults="submit:hold-after=1") as emu:
        [a] = start_workers(emu, tmp_path, ["a"], address, namespace, providers=UNKEYED)
        (tmp_path / "out").mkdir()
        specs = [
            job_spec(
                local_client(emu, provider),
                provider,
                request,
                liveness=2.0,
                output=str(tmp_path / "out" / f"{provider}.mp4"),
            )
            for provider in UNKEYED
            for request in requests(emu, 1, sync_mode="bounce")
        ]
        assert not any(spec.keyed for spec in specs)

        async def main() -> list[Outcome]:
            temporal = await connect(address, namespace)
            jobs = [await start_job(temporal, spec) for spec in specs]
            await asyncio.to_thread(
                emu.holds.wait, 2, point=HoldPoint.SUBMIT_AFTER, timeout=PATIENCE
            )
            [b] = await asyncio.to_thread(
                start_workers, emu, tmp_path, ["b"], address, namespace, providers=UNKEYED
            )
            try:
                a.kill()  # both submits made their jobs; their answers are lost with it
                emu.holds.disarm()
                return [await asyncio.wait_for(job.result(), PATIENCE) for job in jobs]
            finally:
                b.kill()

        found, unknown = asyncio.run(main())
        held = emu.holds.reached()
        arrivals, accepted, _ = emu.ledger.snapshot()
    assert [h.end for h in held] == [HoldEnd.GONE, HoldEnd.GONE]
    assert sorted(a.provider for a in arrivals if a.endpoint == "submit") == sorted(UNKEYED)
    assert sorted(a.provider for a in accepted) == sorted(UNKEYED)
    jogg_job = next(a.job_id for a in accepted if a.provider == "jogg")
    assert (found.state, found.provider_job_id) == ("done", jogg_job), found
    assert unknown.state == "unknown", unknown
    assert "lipbridge jobs reconcile" in (unknown.error or ""), unknown
    with Ledger(tmp_path / "b.sqlite") as ledger:
        assert ledger.get(found.local_id).state is LocalState.DOWNLOADED
        assert ledger.get(unknown.local_id).state is LocalState.UNKNOWN
