"""The cap's holders in the cases a review found stuck, on the dev server with in-process
workers. A holder whose workflow runs again under the same id (a workflow reset starts a
new run that asks again, while the cap still counts the old run as holding) is granted
its slot again instead of waiting forever. A job whose cap workflow is gone (terminated
by an operator) still ends with its outcome: its ``release`` has nobody to reach."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import Client as TemporalClient
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from test_temporal_semaphore import Holder

from lipbridge_temporal.activities import ended_holders
from lipbridge_temporal.cap import CapState, CapWorkflow
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import cap_workflow_id
from lipbridge_temporal.specs import JobSpec, Outcome
from lipbridge_temporal.workflows import JobWorkflow

PATIENCE = 20.0  # only stops a broken test from hanging


def test_a_holder_run_again_under_its_id_is_granted_again(
    temporal_server: DevServer, namespace: str
) -> None:
    queue = f"holders-{uuid.uuid4().hex}"
    cap_id = cap_workflow_id(f"test-{uuid.uuid4().hex[:8]}")
    wid = f"holder-{uuid.uuid4().hex[:6]}"

    async def main() -> list[str]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)

        async def ask() -> None:  # as lipbridge.acquire does
            await temporal.start_workflow(
                CapWorkflow.run,
                CapState(provider="p", limit=1),
                id=cap_id,
                task_queue=queue,
                start_signal="acquire",
                start_signal_args=[wid, 1],
            )

        async with Worker(
            temporal,
            task_queue=queue,
            workflows=[CapWorkflow, Holder],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            first = await temporal.start_workflow(Holder.run, cap_id, id=wid, task_queue=queue)
            await ask()
            while not await first.query(Holder.holding):
                await asyncio.sleep(0.05)
            await first.terminate()  # what a reset does to the run it replaces
            again = await temporal.start_workflow(Holder.run, cap_id, id=wid, task_queue=queue)
            await ask()
            while not await again.query(Holder.holding):
                await asyncio.sleep(0.05)  # before the fix: never
            cap = temporal.get_workflow_handle_for(CapWorkflow.run, cap_id)
            holders = await cap.query(CapWorkflow.holders)
            await again.signal(Holder.on_done)
            await again.result()
            await cap.terminate()
            return holders

    holders = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert holders == [wid]  # one slot, held once


def test_a_job_whose_cap_workflow_is_gone_still_ends(
    temporal_server: DevServer, namespace: str
) -> None:
    provider = f"gone{uuid.uuid4().hex[:6]}"

    @activity.defn(name="lipbridge.acquire")
    async def acquire(provider: str, limit: int, who: str) -> None:
        """Asks nobody: the cap workflow is not there (terminated meanwhile)."""

    async def main() -> Outcome:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)
        queue = f"job-{uuid.uuid4().hex}"
        async with Worker(
            temporal, task_queue=queue, workflows=[JobWorkflow], activities=[acquire]
        ):
            spec = JobSpec(
                local_id=uuid.uuid4().hex, provider=provider, request_json="{}", cap=1
            )
            job = await temporal.start_workflow(
                JobWorkflow.run, spec, id=f"job-{spec.local_id}", task_queue=queue
            )
            await job.signal(JobWorkflow.cancel)  # ends before its submit: then releases
            return await job.result()

    outcome = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert outcome.state == "pending"


def test_a_slot_leaked_before_anyone_waits_is_found_when_one_comes(
    temporal_server: DevServer, namespace: str
) -> None:
    queue = f"holders-{uuid.uuid4().hex}"
    cap_id = cap_workflow_id(f"test-{uuid.uuid4().hex[:8]}")

    async def main() -> list[str]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)

        @activity.defn(name="lipbridge.ended")
        async def ended(holders: list[str]) -> list[str]:  # as a worker registers it
            return await ended_holders(temporal, holders)

        async def ask(wid: str) -> None:  # as lipbridge.acquire does
            await temporal.start_workflow(
                CapWorkflow.run,
                CapState(provider="p", limit=1, check_every=0.2),
                id=cap_id,
                task_queue=queue,
                start_signal="acquire",
                start_signal_args=[wid, 1],
            )

        async with Worker(
            temporal,
            task_queue=queue,
            workflows=[CapWorkflow, Holder],
            activities=[ended],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            ids = [f"holder-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
            first, second = [
                await temporal.start_workflow(Holder.run, cap_id, id=wid, task_queue=queue)
                for wid in ids
            ]
            await ask(ids[0])
            while not await first.query(Holder.holding):
                await asyncio.sleep(0.05)
            await first.terminate()  # its slot leaks while nobody waits
            await ask(ids[1])  # then one comes: the cap checks its holders again
            while not await second.query(Holder.holding):
                await asyncio.sleep(0.05)  # before the fix: never
            cap = temporal.get_workflow_handle_for(CapWorkflow.run, cap_id)
            holders = await cap.query(CapWorkflow.holders)
            await second.terminate()
            await cap.terminate()
            return holders

    assert asyncio.run(asyncio.wait_for(main(), PATIENCE))[0].startswith("holder-1-")


def test_a_job_whose_acquire_fails_ends_pending_nothing_sent(
    temporal_server: DevServer, namespace: str
) -> None:
    """Not ``unknown``, which tells the user to reconcile a submit that may have been
    billed: the submit was never begun."""

    @activity.defn(name="lipbridge.acquire")
    async def acquire(provider: str, limit: int, who: str) -> None:
        raise ApplicationError("the cluster is unreachable", non_retryable=True)

    async def main() -> Outcome:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)
        queue = f"job-{uuid.uuid4().hex}"
        async with Worker(
            temporal, task_queue=queue, workflows=[JobWorkflow], activities=[acquire]
        ):
            spec = JobSpec(local_id=uuid.uuid4().hex, provider="p", request_json="{}", cap=1)
            job = await temporal.start_workflow(
                JobWorkflow.run, spec, id=f"job-{spec.local_id}", task_queue=queue
            )
            return await job.result()

    outcome = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert (outcome.state, outcome.provider_job_id) == ("pending", None)
    assert "unreachable" in (outcome.error or "")
