"""The per-provider cap workflow on its own, on the dev server with an in-process worker:
four holders, a limit of two, continuing as new every three signals. The limit, the
holders and the queue survive each new run (a release that reaches a new run before it
began included), no more than two ever hold a slot, and every holder gets one in turn.
And a holder terminated while holding its slot (it runs no ``finally``, so never
releases) loses the slot to the next in line, by the cap's own check of its holders."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity, workflow
from temporalio.client import Client as TemporalClient
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from lipbridge_temporal.activities import ended_holders
from lipbridge_temporal.cap import CapState, CapWorkflow
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import cap_workflow_id

HOLDERS, LIMIT = 4, 2
PATIENCE = 60.0


@workflow.defn(name="TestHolder")
class Holder:
    """Asks for a slot, holds it until told ``done``, then gives it back."""

    def __init__(self) -> None:
        self.granted = False
        self.done = False

    @workflow.signal(name="granted")
    def on_granted(self) -> None:
        self.granted = True

    @workflow.signal(name="done")
    def on_done(self) -> None:
        self.done = True

    @workflow.query(name="holding")
    def holding(self) -> bool:
        return self.granted and not self.done

    @workflow.run
    async def run(self, cap_id: str) -> None:
        await workflow.wait_condition(lambda: self.granted)
        await workflow.wait_condition(lambda: self.done)
        await workflow.get_external_workflow_handle(cap_id).signal(
            "release", workflow.info().workflow_id
        )


def test_the_cap_keeps_its_limit_and_holders_across_continue_as_new(
    temporal_server: DevServer, namespace: str
) -> None:
    queue = f"semaphore-{uuid.uuid4().hex}"
    cap_id = cap_workflow_id(f"test-{uuid.uuid4().hex[:8]}")

    async def main() -> tuple[list[int], int]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)
        async with Worker(
            temporal,
            task_queue=queue,
            workflows=[CapWorkflow, Holder],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            ids = [f"holder-{n}-{uuid.uuid4().hex[:6]}" for n in range(HOLDERS)]
            holders = [
                await temporal.start_workflow(Holder.run, cap_id, id=wid, task_queue=queue)
                for wid in ids
            ]
            for wid in ids:  # as lipbridge.acquire does
                await temporal.start_workflow(
                    CapWorkflow.run,
                    CapState(provider="p", limit=LIMIT, continue_after=3),
                    id=cap_id,
                    task_queue=queue,
                    start_signal="acquire",
                    start_signal_args=[wid, LIMIT],
                )
            seen = []
            for n, holder in enumerate(holders):  # in turn: the next LIMIT hold, then n ends
                due = holders[n : n + LIMIT]
                while not all([await h.query(Holder.holding) for h in due]):
                    await asyncio.sleep(0.05)  # until they hold, within PATIENCE
                seen.append(sum([await h.query(Holder.holding) for h in holders]))
                await holder.signal(Holder.on_done)
                await holder.result()
            runs = 0
            async for _ in temporal.list_workflows(f'WorkflowId = "{cap_id}"'):
                runs += 1
            await temporal.get_workflow_handle(cap_id).terminate()
            return seen, runs

    seen, runs = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert seen == [2, 2, 2, 1], seen  # never more than LIMIT; the limit kept across runs
    assert runs >= 2  # it continued as new at least once


def test_a_terminated_holders_slot_goes_to_the_next_in_line(
    temporal_server: DevServer, namespace: str
) -> None:
    queue = f"semaphore-{uuid.uuid4().hex}"
    cap_id = cap_workflow_id(f"test-{uuid.uuid4().hex[:8]}")

    async def main() -> tuple[list[str], list[str]]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)

        @activity.defn(name="lipbridge.ended")
        async def ended(holders: list[str]) -> list[str]:  # as a worker registers it
            return await ended_holders(temporal, holders)

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
            for wid in ids:
                await temporal.start_workflow(
                    CapWorkflow.run,
                    CapState(provider="p", limit=1, check_every=0.2),
                    id=cap_id,
                    task_queue=queue,
                    start_signal="acquire",
                    start_signal_args=[wid, 1],
                )
            cap = temporal.get_workflow_handle_for(CapWorkflow.run, cap_id)
            while not await first.query(Holder.holding):
                await asyncio.sleep(0.05)  # until it holds, within PATIENCE
            before = await cap.query(CapWorkflow.holders)
            await first.terminate()  # no release: its slot leaks until the check
            while not await second.query(Holder.holding):
                await asyncio.sleep(0.05)
            after = await cap.query(CapWorkflow.holders)
            await second.terminate()
            await cap.terminate()
            return before, after

    before, after = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert before == [before[0]] and before[0].startswith("holder-0-")
    assert len(after) == 1 and after[0].startswith("holder-1-")
