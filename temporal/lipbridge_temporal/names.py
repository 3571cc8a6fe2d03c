"""Names shared by the workflows, the workers and whoever starts jobs: workflow ids and
task queues. Pure: workflows import it inside Temporal's sandbox."""

from __future__ import annotations

# Every job, batch and cap workflow runs on this queue; activities go to per-provider ones.
WORKFLOW_QUEUE = "lipbridge"


def job_workflow_id(local_id: str) -> str:
    """A job's workflow id, from its local id: the engine refuses a second start."""
    return f"lipbridge-job-{local_id}"


def batch_workflow_id(batch_id: str) -> str:
    return f"lipbridge-batch-{batch_id}"


def cap_workflow_id(provider: str) -> str:
    """The one semaphore workflow holding ``provider``'s jobs in flight, across workers."""
    return f"lipbridge-cap-{provider}"


def submit_queue(provider: str) -> str:
    """Submits to ``provider`` only: the queue whose server-side rate limit paces them."""
    return f"lipbridge-submit-{provider}"


def provider_queue(provider: str) -> str:
    """Polls, reconciles and downloads at ``provider`` (not rate limited)."""
    return f"lipbridge-{provider}"


def callback_workflow_id(provider: str, provider_job_id: str) -> str:
    """The workflow a callback receiver signals: named from what a callback carries (the
    provider's job id), it relays the signal to the job's own workflow."""
    return f"lipbridge-callback-{provider}-{provider_job_id}"
