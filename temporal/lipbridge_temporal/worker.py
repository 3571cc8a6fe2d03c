"""A worker: the batch, cap and relay workflows on the shared queue, and for each
provider its submit queue (rate limited on the server, for every worker at once) and its
queue for the rest: the jobs' workflows, their polls (local activities) and other steps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.worker import Worker

from lipbridge_temporal.activities import JobActivities
from lipbridge_temporal.cap import CapWorkflow
from lipbridge_temporal.names import WORKFLOW_QUEUE, provider_queue, submit_queue
from lipbridge_temporal.workflows import BatchWorkflow, CallbackRelay, JobWorkflow

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient

    from lipbridge.client import Client


async def serve(
    client: Client,
    temporal: TemporalClient,
    providers: Sequence[str],
    *,
    stop: asyncio.Event,
    submits_per_second: float | None = None,
    max_activities: int = 64,
    handover: float = 5.0,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run until ``stop`` is set. ``submits_per_second`` is the server-side limit on each
    provider's submit queue (every worker should give the same); ``handover`` is how long
    a workflow task waits for this worker's sticky queue before any worker may take it
    (a killed worker's workflows move on after it)."""
    activities = JobActivities(client, temporal, threads=max_activities)
    sticky = timedelta(seconds=handover)
    workers = [
        Worker(
            temporal,
            task_queue=WORKFLOW_QUEUE,
            workflows=[CapWorkflow, BatchWorkflow, CallbackRelay],
            # the cap's check of its holders, the batch's of its jobs (local)
            activities=[activities.ended, activities.lost],
            sticky_queue_schedule_to_start_timeout=sticky,
        )
    ]
    for provider in providers:  # submits rate limited on the server; the rest not
        workers.append(
            Worker(
                temporal,
                task_queue=submit_queue(provider),
                activities=activities.all(),
                max_concurrent_activities=max_activities,
                max_task_queue_activities_per_second=submits_per_second,
            )
        )
        # A job's workflow runs on its provider's queue, on workers that serve the
        # provider: its polls are local activities, run where the workflow runs.
        workers.append(
            Worker(
                temporal,
                task_queue=provider_queue(provider),
                workflows=[JobWorkflow],
                activities=activities.all(),
                max_concurrent_activities=max_activities,
                max_concurrent_local_activities=max_activities,
                sticky_queue_schedule_to_start_timeout=sticky,
            )
        )
    try:
        async with contextlib.AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            if ready is not None:
                ready()
            await stop.wait()
    finally:
        activities.close()
