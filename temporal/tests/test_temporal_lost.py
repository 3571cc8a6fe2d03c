"""A batch whose job's workflow ends without telling it (terminated by an operator; also
cancelled, failed or timed out: none runs the code that signals ``ended``) ends that row
``unknown``, by the batch's own check of its jobs in flight, instead of waiting for it
forever. On the dev server with in-process workers; the job waits for a submit that no
worker takes until it is terminated."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import Client as TemporalClient
from temporalio.service import RPCError
from temporalio.worker import Worker

from lipbridge_temporal.activities import ended_holders
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import job_workflow_id, provider_queue
from lipbridge_temporal.specs import BatchInput, JobSpec, Outcome
from lipbridge_temporal.workflows import BatchWorkflow, JobWorkflow

PATIENCE = 30.0  # only stops a broken test from hanging


async def started(temporal: TemporalClient, spec: JobSpec) -> None:
    """Until the batch has started ``spec``'s job."""
    job = temporal.get_workflow_handle(job_workflow_id(spec.local_id))
    while True:
        try:
            await job.describe()
            return
        except RPCError:
            await asyncio.sleep(0.05)


def test_a_terminated_jobs_row_ends_its_batch(temporal_server: DevServer, namespace: str) -> None:
    provider = f"lost{uuid.uuid4().hex[:8]}"
    spec = JobSpec(local_id=uuid.uuid4().hex, provider=provider, request_json="{}", line=1)

    async def main() -> list[Outcome]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)

        @activity.defn(name="lipbridge.lost")
        async def lost(jobs: list[str]) -> list[str]:  # as a worker registers it
            return await ended_holders(temporal, jobs, completed=False)

        queue = f"batch-{uuid.uuid4().hex}"
        async with (
            Worker(temporal, task_queue=queue, workflows=[BatchWorkflow], activities=[lost]),
            Worker(temporal, task_queue=provider_queue(provider), workflows=[JobWorkflow]),
        ):
            batch = await temporal.start_workflow(
                BatchWorkflow.run,
                BatchInput(batch_id="lost", jobs=[spec], check_every=0.2),
                id=f"batch-{uuid.uuid4().hex}",
                task_queue=queue,
            )
            await started(temporal, spec)  # its submit is never taken
            await temporal.get_workflow_handle(job_workflow_id(spec.local_id)).terminate()
            return await batch.result()

    outcomes = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert [(o.line, o.local_id, o.state) for o in outcomes] == [(1, spec.local_id, "unknown")]
    assert "ended without an outcome" in (outcomes[0].error or "")


def test_a_rows_long_error_is_cut_in_the_batch(temporal_server: DevServer, namespace: str) -> None:
    """The outcomes a batch carries across continue-as-new and returns stay small: a
    provider's long error text is cut (its job's worker keeps it whole in its ledger)."""
    provider = f"long{uuid.uuid4().hex[:8]}"  # no worker: the job never runs
    spec = JobSpec(local_id=uuid.uuid4().hex, provider=provider, request_json="{}", line=1)

    async def main() -> list[Outcome]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)
        queue = f"batch-{uuid.uuid4().hex}"
        async with Worker(temporal, task_queue=queue, workflows=[BatchWorkflow]):
            batch = await temporal.start_workflow(
                BatchWorkflow.run,
                BatchInput(batch_id="long", jobs=[spec]),
                id=f"batch-{uuid.uuid4().hex}",
                task_queue=queue,
            )
            await started(temporal, spec)
            told = Outcome(
                local_id=spec.local_id, provider=provider, line=1, state="failed", error="x" * 9999
            )
            await batch.signal(BatchWorkflow.ended, told)  # as the job does at its end
            outcomes = await batch.result()
            await temporal.get_workflow_handle(job_workflow_id(spec.local_id)).terminate()
            return outcomes

    outcomes = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert [(o.line, o.state) for o in outcomes] == [(1, "failed")]
    assert (outcomes[0].error or "").startswith("xxx") and len(outcomes[0].error or "") < 1000
