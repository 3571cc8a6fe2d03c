"""A batch is split into workflows by the size of their input, not only by a row count:
rows with long input URLs (a presigned URL is 1 to 3 KB) made one 800-row workflow of
over 2 MB, which the server refuses to start (its blob size limit). On the dev server,
no worker needed: the parts start, each within the budget, every row in order."""

from __future__ import annotations

import asyncio
import json
import uuid

from temporalio.client import Client as TemporalClient
from temporalio.converter import DataConverter

from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.engine import PART_BYTES, _parts
from lipbridge_temporal.specs import BatchInput, JobSpec

ROWS = 800
PATIENCE = 30.0  # only stops a broken test from hanging


def spec(n: int) -> JobSpec:
    url = f"https://bucket.example.com/face-{n}.mp4?X-Amz-Signature=" + "ab" * 1500
    return JobSpec(
        local_id=f"{n:026d}", provider="foxapi", request_json=json.dumps({"video": url}), line=n
    )


def test_a_batch_of_long_rows_is_split_below_the_blob_limit(
    temporal_server: DevServer, namespace: str
) -> None:
    specs = [spec(n) for n in range(1, ROWS + 1)]

    async def main() -> list[BatchInput]:
        temporal = await TemporalClient.connect(temporal_server.address, namespace=namespace)
        handles = await _parts(temporal, f"parts{uuid.uuid4().hex[:8]}", specs, window=4)
        inputs = []
        for handle in handles:
            async for event in handle.fetch_history_events():
                started = event.workflow_execution_started_event_attributes
                if event.HasField("workflow_execution_started_event_attributes"):
                    payload = started.input.payloads[0]
                    assert payload.ByteSize() <= PART_BYTES
                    inputs.append(
                        DataConverter.default.payload_converter.from_payload(payload, BatchInput)
                    )
                    break
            await handle.terminate()
        return inputs

    inputs = asyncio.run(asyncio.wait_for(main(), PATIENCE))
    assert len(inputs) >= 2
    assert [j.line for part in inputs for j in part.jobs] == list(range(1, ROWS + 1))
