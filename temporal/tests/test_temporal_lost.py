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
from temporalio.worker import Worker

from lipbridge_temporal.activities import ended_holders
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import job_workflow_id, provider_queue
from lipbridge_temporal.specs import BatchInput, JobSpec, Outcome
from lipbridge_temporal.workflows import BatchWorkflow, JobWorkflow

PATIENCE = 30.0  # only stops a broken test from hanging


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
            job = temporal.get_workflow_handle(job_workflow_id(spec.local_id))
            while True:  # until the job runs (its submit is never taken)
                try:
                    await job.describe()
                    break
                except Exception:
                    await asyncio.sleep(0.05)
            await job.terminate()
            return await batch.result()

    outcomes = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert [(o.line, o.local_id, o.state) for o in outcomes] == [(1, spec.local_id, "unknown")]
    assert "ended without an outcome" in (outcomes[0].error or "")
