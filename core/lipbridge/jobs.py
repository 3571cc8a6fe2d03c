"""``client.jobs``: the client's jobs as its ledger records them, and what can be done
with them later: run, resume, reconcile, download again, account for.

No submit is ever sent twice unless the provider takes an idempotency key or the job
was proven never accepted.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
from attrs import frozen

from lipbridge.errors import (
    InvalidRequest,
    JobFailed,
    LipbridgeError,
    SubmitOutcomeUnknown,
)
from lipbridge.ledger import LedgerEvent, LedgerJob, LocalState
from lipbridge.ledger.costs import CostLine, cost_lines
from lipbridge.ledger.records import JobSummary
from lipbridge.models import (
    JobError,
    JobHandle,
    JobResult,
    JobState,
    JobStatus,
)
from lipbridge.routes import with_references
from lipbridge.tracking import Progress, TrackedJobs

# A provider's clock may run behind ours: its record of a job we submitted can say it was
# created this long before our intent was recorded.
CLOCK_SKEW = dt.timedelta(minutes=10)


@frozen(kw_only=True)
class ResumeOutcome:
    """What resuming one job came to: its result, or the error that stopped it."""

    job: LedgerJob
    result: JobResult | None = None
    error: LipbridgeError | None = None


class NeedsReconciling(SubmitOutcomeUnknown):
    """An unknown job lipbridge could not settle alone: the user says what happened."""


class Jobs(TrackedJobs):
    """The ledger-backed side of a :class:`~lipbridge.client.Client` (``client.jobs``)."""

    # -- resuming and reconciling -------------------------------------------------------------

    def resume(
        self, ref: str, *, timeout: float | None = 1800.0, on_progress: Progress | None = None
    ) -> JobResult | None:
        """Take a job as far as it can go: reconcile, submit, wait, download.

        Returns the result (None for a job that was refused); raises what stops it.
        """
        job = self.ledger.get(ref)
        with self.ledger.driving(job.local_id):
            job = self.settle(job.local_id)
            if job.state is LocalState.REJECTED:
                return None
            handle = self._handle(job)
            if job.state in (LocalState.QUEUED, LocalState.RUNNING):
                result = self._wait(job.local_id, handle, timeout, on_progress)
            elif job.state in (LocalState.FAILED, LocalState.CANCELLED):
                raise self._failure(job, handle)
            else:
                assert job.result is not None
                result = job.result
            job = self.ledger.get(job.local_id)
            if job.output_path is not None and job.state is LocalState.SUCCEEDED:
                self.fetch(job.local_id, handle, result, Path(job.output_path))
            return result

    def resume_outcome(
        self, ref: str, *, timeout: float | None = 1800.0, on_progress: Progress | None = None
    ) -> ResumeOutcome:
        """:meth:`resume`, with what stopped it (if anything) kept beside the job."""
        local_id = self.ledger.get(ref).local_id
        try:
            result = self.resume(local_id, timeout=timeout, on_progress=on_progress)
        except LipbridgeError as exc:
            return ResumeOutcome(job=self.ledger.get(local_id), error=exc)
        return ResumeOutcome(job=self.ledger.get(local_id), result=result)

    def settle(self, local_id: str) -> LedgerJob:
        """Bring a job whose lease the caller holds to where it can be followed: a submit
        whose outcome is unknown is found again (or :class:`NeedsReconciling` says why
        not), one proven never accepted is submitted. Returns the job as it now stands."""
        job = self.ledger.get(local_id)  # as it is now that it is ours
        if job.state is LocalState.SUBMITTING:  # its lease lapsed: its submitter is gone
            self.ledger.orphaned(local_id)
        if job.state in (LocalState.SUBMITTING, LocalState.UNKNOWN):
            self._settle(job)
            job = self.ledger.get(local_id)
        if job.state is LocalState.NOT_SUBMITTED:
            info = self.client.registry.info(job.provider)
            sent = self._routed_again(job, info)  # before the intent: a file may be gone
            self.ledger.resubmitting(local_id)
            self._send(job, info, sent)
            job = self.ledger.get(local_id)
        return job

    def resume_all(
        self,
        *,
        timeout: float | None = 1800.0,
        concurrency: int = 4,
        on_progress: Callable[[LedgerJob, JobStatus], None] | None = None,
    ) -> list[ResumeOutcome]:
        """Resume every unfinished job, ``concurrency`` at a time; jobs another process
        drives are left to it (their outcome says so)."""

        def one(job: LedgerJob) -> ResumeOutcome:
            progress = (lambda status: on_progress(job, status)) if on_progress else None
            return self.resume_outcome(job.local_id, timeout=timeout, on_progress=progress)

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return list(pool.map(one, self.ledger.unfinished()))

    def _settle(self, job: LedgerJob) -> None:
        """Find out what became of a submit whose answer was lost, without paying twice:
        re-send under the same idempotency key, else look the job up at the provider."""
        info = self.client.registry.info(job.provider)
        # What was sent, its local files as the references they went as: under the same
        # key the provider must see the same body to answer with the same job.
        sent = with_references(job.request, self.ledger.sent_references(job.local_id))
        if info.idempotency_header:  # the provider answers with the same job
            self._send(job, info, sent)
            return
        found = self.client.find_jobs(job.provider, sent, job.created_at - CLOCK_SKEW)
        if found is None:
            raise NeedsReconciling(
                f"job {job.local_id} on {job.provider} may have been accepted (and billed): "
                f"the answer to its submit was lost, and {job.provider} offers no idempotency "
                "key or job lookup. Check the provider's dashboard, then run "
                f"`lipbridge jobs reconcile {job.local_id} --provider-job JOB_ID` or "
                f"`lipbridge jobs reconcile {job.local_id} --not-submitted`",
                details={"local_id": job.local_id, "fingerprint": job.fingerprint},
                provider=job.provider,
            )
        known = self.ledger.known_job_ids(job.provider)
        candidates = [h for h in found if h.job_id not in known]
        if len(candidates) != 1:
            what = (
                "found no job made from its inputs"
                if not candidates
                else f"found {len(candidates)} jobs made from its inputs "
                f"({', '.join(h.job_id for h in candidates)})"
            )
            raise NeedsReconciling(
                f"job {job.local_id}: a lookup on {job.provider} since "
                f"{(job.created_at - CLOCK_SKEW).isoformat()} {what}; nothing was changed. "
                f"Run `lipbridge jobs reconcile {job.local_id} --provider-job JOB_ID` or "
                f"`--not-submitted` once you know",
                details={"local_id": job.local_id, "fingerprint": job.fingerprint},
                provider=job.provider,
            )
        handle = attrs.evolve(candidates[0], local_id=job.local_id, model=job.model)
        self.ledger.reconciled(job.local_id, handle, f"found by lookup: {handle.job_id}")

    def reconcile(
        self, ref: str, *, provider_job: str | None = None, not_submitted: bool = False
    ) -> LedgerJob:
        """Settle an unknown job: automatically, or as the user says.

        ``provider_job`` is checked with a poll before it is adopted; ``not_submitted``
        lets the next resume submit the job.
        """
        if provider_job is not None and not_submitted:
            raise InvalidRequest(
                "give either a provider job id or not_submitted, not both", field="provider_job"
            )
        job = self.ledger.get(ref)
        with self.ledger.driving(job.local_id):
            job = self.ledger.get(job.local_id)
            if job.state not in (LocalState.SUBMITTING, LocalState.UNKNOWN):
                raise InvalidRequest(
                    f"job {job.local_id} is {job.state.value}; only a job whose submit "
                    "outcome is unknown is reconciled",
                    field="job",
                )
            if not_submitted:
                self.ledger.reconciled(
                    job.local_id, None, "the user says it never reached the provider"
                )
            elif provider_job is not None:
                self._adopt(job, provider_job)
            else:
                self._settle(job)
            return self.ledger.get(job.local_id)

    def _adopt(self, job: LedgerJob, provider_job: str) -> None:
        other = self.ledger.find(job.provider, provider_job)
        if other is not None:
            raise InvalidRequest(
                f"{job.provider} job {provider_job} is already job {other.local_id} in the "
                "ledger; nothing was changed",
                field="provider_job",
            )
        handle = JobHandle(
            provider=job.provider,
            job_id=provider_job,
            created_at=self.client.clock.now(),
            model=job.model,
            local_id=job.local_id,
        )
        status = self.client.poll(handle)  # JobNotFound here changes nothing
        self.ledger.reconciled(job.local_id, handle, f"the user named {provider_job}")
        self.ledger.observed(job.local_id, status, None)

    @staticmethod
    def _failure(job: LedgerJob, handle: JobHandle) -> JobFailed:
        state = JobState.CANCELLED if job.state is LocalState.CANCELLED else JobState.FAILED
        status = JobStatus(
            state=state,
            raw_status=job.state.value,
            error=JobError(message=job.error_message) if job.error_message else None,
        )
        from lipbridge.client import result_of

        try:
            result_of(handle, status)
        except JobFailed as exc:
            return exc
        raise AssertionError("a failed status always raises")  # pragma: no cover

    # -- reading ------------------------------------------------------------------------------

    def get(self, ref: str) -> LedgerJob:
        return self.ledger.get(ref)

    def list(
        self,
        *,
        provider: str | None = None,
        states: tuple[LocalState, ...] = (),
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[JobSummary]:
        return self.ledger.list(provider=provider, states=states, since=since, limit=limit)

    def events(self, ref: str) -> builtins.list[LedgerEvent]:
        return self.ledger.events(self.ledger.get(ref).local_id)

    def costs(self, by: str = "provider") -> builtins.list[CostLine]:
        return cost_lines(self.ledger.cost_rows(), by)


__all__ = ["Jobs", "NeedsReconciling", "ResumeOutcome"]
