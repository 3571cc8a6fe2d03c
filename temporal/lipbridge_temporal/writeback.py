"""Jobs run on the cluster, written back to the ledger of whoever started them, so that
``lipbridge jobs list``, ``jobs show`` and ``jobs costs`` show them as local ones. A job
that ledger already has (a worker on the same machine wrote it) is left as it is."""

from __future__ import annotations

from decimal import Decimal

from lipbridge.errors import InvalidRequest, LipbridgeError, SubmitOutcomeUnknown
from lipbridge.ledger import Ledger
from lipbridge.models import (
    BilledUsage,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
)
from lipbridge_temporal.specs import Outcome


def record(
    ledger: Ledger, request: JobRequest, outcome: Outcome, *, batch: tuple[str, int] | None
) -> None:
    """Record ``outcome`` (of ``request``) in ``ledger`` under its local id; a row
    never sent (``pending``) is left out, as the local batch leaves it."""
    if outcome.state == "pending":
        return
    try:
        ledger.get(outcome.local_id)
        return  # recorded by a worker on this ledger, step by step
    except InvalidRequest:
        pass
    local_id = outcome.local_id
    ledger.begin(outcome.provider, request, output=outcome.output, batch=batch, local_id=local_id)
    try:
        _ended(ledger, request, outcome)
    finally:
        ledger.release(local_id)


def _ended(ledger: Ledger, request: JobRequest, outcome: Outcome) -> None:
    local_id = outcome.local_id
    if outcome.provider_job_id is None:  # never accepted, or never found again
        why = outcome.error or outcome.state
        if outcome.state == "rejected":
            ledger.submit_failed(local_id, LipbridgeError(why), unknown=False)
        else:
            lost = SubmitOutcomeUnknown(why, details={"local_id": local_id})
            ledger.submit_failed(local_id, lost, unknown=True)
        return
    handle = JobHandle(
        provider=outcome.provider,
        job_id=outcome.provider_job_id,
        created_at=ledger.clock.now(),
        model=request.model,
        local_id=local_id,
    )
    ledger.reconciled(local_id, handle, "run on Temporal")
    if outcome.state == "waiting":
        return
    if outcome.state == "failed" and outcome.result_url is None:
        failed = JobStatus(
            state=JobState.FAILED,
            raw_status="failed",
            error=JobError(message=outcome.error or "failed"),
        )
        ledger.observed(local_id, failed, None)
        return
    result = result_of(outcome)
    ledger.observed(
        local_id, JobStatus(state=JobState.SUCCEEDED, raw_status="succeeded", result=result), None
    )
    if outcome.output is not None and outcome.sha256 is not None and outcome.size is not None:
        from pathlib import Path

        ledger.downloaded(local_id, Path(outcome.output), outcome.size, outcome.sha256)


def result_of(outcome: Outcome) -> JobResult | None:
    """The result an outcome reports: its masked URL and what was billed."""
    if outcome.result_url is None:
        return None
    billed = outcome.billed
    usage = None
    if billed is not None:
        usd = Decimal(billed.usd) if billed.usd is not None else None
        usage = BilledUsage(amount=Decimal(billed.amount), unit=billed.unit, usd=usd)
    return JobResult(video_url=outcome.result_url, billed=usage)
