"""Starting jobs on the cluster: a request checked offline (no key needed where jobs
are started), named with a new local id, and started as its workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lipbridge.convert import dumps
from lipbridge.ledger.ids import new_local_id
from lipbridge.validation import validate
from lipbridge_temporal.names import WORKFLOW_QUEUE, job_workflow_id, provider_queue
from lipbridge_temporal.specs import JobSpec, Outcome

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient
    from temporalio.client import WorkflowHandle

    from lipbridge.client import Client
    from lipbridge.models import JobRequest


def job_spec(
    client: Client,
    provider: str,
    request: JobRequest,
    *,
    output: str | None = None,
    cap: int | None = None,
    timeout: float = 1800.0,
    line: int | None = None,
    liveness: float = 30.0,
    local_id: str | None = None,
) -> JobSpec:
    """The spec of one job, checked against the model before anything is started.

    ``cap``: jobs in flight at ``provider`` across all workers (default: what the plugin
    declares, else none); ``liveness``: seconds without a heartbeat before a worker that
    runs a step of the job counts as dead.
    """
    info = client.info(provider)
    request = validate(info, request)
    callbacks = request.callback_url is not None
    policy = client.poll_policy.for_callbacks() if callbacks else client.poll_policy
    return JobSpec(
        local_id=local_id or new_local_id(client.clock.now()),
        provider=provider,
        request_json=dumps(request),
        output=output,
        cap=cap if cap is not None else info.max_concurrent_jobs,
        timeout=timeout,
        line=line,
        callbacks=callbacks,
        keyed=info.idempotency_header is not None,
        liveness=liveness,
        first_poll=policy.first,
    )


async def start_job(temporal: TemporalClient, spec: JobSpec) -> WorkflowHandle[Any, Outcome]:
    """Start ``spec``'s workflow; a second start of the same job is refused by the
    server (:class:`temporalio.exceptions.WorkflowAlreadyStartedError`), even after the
    first one ended."""
    from temporalio.common import WorkflowIDReusePolicy

    from lipbridge_temporal.workflows import JobWorkflow

    return await temporal.start_workflow(
        JobWorkflow.run,
        spec,
        id=job_workflow_id(spec.local_id),
        task_queue=provider_queue(spec.provider),
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


async def start_batch(
    temporal: TemporalClient,
    batch_id: str,
    jobs: list[JobSpec],
    *,
    window: int = 256,
    continue_after: int = 500,
) -> WorkflowHandle[Any, list[Outcome]]:
    """Start a batch's workflow (``lipbridge-batch-<id>``), which starts each job's."""
    from temporalio.common import WorkflowIDReusePolicy

    from lipbridge_temporal.names import batch_workflow_id
    from lipbridge_temporal.specs import BatchInput
    from lipbridge_temporal.workflows import BatchWorkflow

    return await temporal.start_workflow(
        BatchWorkflow.run,
        BatchInput(batch_id=batch_id, jobs=jobs, window=window, continue_after=continue_after),
        id=batch_workflow_id(batch_id),
        task_queue=WORKFLOW_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


async def cancel_job(temporal: TemporalClient, local_id: str) -> None:
    """Cancel the job ``local_id``: nothing is sent if its submit has not begun; else the
    provider's cancel is asked (where the model has one) and the job followed to its
    end, its cap slot given back then."""
    from lipbridge_temporal.workflows import JobWorkflow

    handle = temporal.get_workflow_handle_for(JobWorkflow.run, job_workflow_id(local_id))
    await handle.signal(JobWorkflow.cancel)
