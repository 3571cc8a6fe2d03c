"""What a step's failure puts in a job's history. An exception that is not lipbridge's
(a plugin's bug, a library's error naming the URL it failed on) reached Temporal as the
SDK records it: its own text, with a presigned URL's signature in it. Now every failure
of a step is its class and its redacted message, on the dev server's history."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, cast

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client as TemporalClient
from temporalio.worker import Worker

from lipbridge_temporal.activities import JobActivities
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import provider_queue, submit_queue
from lipbridge_temporal.specs import JobSpec
from lipbridge_temporal.workflows import JobWorkflow

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.jobs import Jobs

SIGNATURE = "5ec7e75160a7b1e0c0ffee5ec7e75160a7b1e0c0ffee"
URL = f"https://bucket.s3.amazonaws.com/face.mp4?X-Amz-Expires=600&X-Amz-Signature={SIGNATURE}"
PATIENCE = 30.0  # only stops a broken test from hanging


class Broken:
    """A worker's client whose every step fails with a third-party error naming a URL."""

    @property
    def jobs(self) -> Jobs:
        raise ConnectionError(f"Max retries exceeded with url: {URL}")


def test_a_foreign_errors_url_signature_stays_out_of_the_history(
    temporal_server: DevServer, namespace: str
) -> None:
    async def main() -> bytes:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)
        provider = f"broken{uuid.uuid4().hex[:8]}"
        queue = provider_queue(provider)
        steps = JobActivities(cast("Client", Broken()), temporal, threads=2)
        try:
            async with (
                Worker(temporal, task_queue=queue, workflows=[JobWorkflow]),
                Worker(temporal, task_queue=submit_queue(provider), activities=steps.all()),
            ):
                spec = JobSpec(local_id=uuid.uuid4().hex, provider=provider, request_json="{}")
                job = await temporal.start_workflow(
                    JobWorkflow.run, spec, id=f"job-{spec.local_id}", task_queue=queue
                )
                failed = EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                while True:  # until the submit's failure is recorded
                    history = await job.fetch_history()
                    if any(e.event_type == failed for e in history.events):
                        break
                    await asyncio.sleep(0.05)
                await job.terminate()
                return history.to_json().encode()
        finally:
            steps.close()

    history = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert b"ConnectionError" in history  # the failure is there, named
    assert SIGNATURE.encode() not in history
