"""The per-provider cap workflow on its own, on the dev server with an in-process worker:
four holders, a limit of two, continuing as new every three signals. The limit, the
holders and the queue survive each new run (a release that reaches a new run before it
began included), no more than two ever hold a slot, and every holder gets one in turn."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.client import Client as TemporalClient
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import cap_workflow_id
from lipbridge_temporal.workflows import CapState, CapWorkflow

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
