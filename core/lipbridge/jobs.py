"""``client.jobs``: the client's jobs as its ledger records them, and what can be done
with them later: run, resume, reconcile, download again, account for.

The client sends; this module decides what is safe to send given what the ledger knows.
No submit is ever sent twice unless the provider takes an idempotency key or the job
was proven never accepted.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from attrs import frozen

from lipbridge.errors import (
    DownloadFailed,
    InvalidRequest,
    JobBusy,
    JobFailed,
    LedgerError,
    LipbridgeError,
    SubmitOutcomeUnknown,
)
from lipbridge.ledger import Ledger, LedgerEvent, LedgerJob, LocalState
from lipbridge.ledger.costs import CostLine, cost_lines
from lipbridge.ledger.records import JobSummary
from lipbridge.models import (
    CostEstimate,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderInfo,
)
from lipbridge.urls import check_output_path
from lipbridge.validation import local_path

if TYPE_CHECKING:
    from lipbridge.client import Client

# A provider's clock may run behind ours: its record of a job we submitted can say it was
# created this long before our intent was recorded.
CLOCK_SKEW = dt.timedelta(minutes=10)
EXPIRED_URL_STATUSES = frozenset({403, 404, 410})

Progress = Callable[[JobStatus], None]


def _digest(path: Path) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


@frozen(kw_only=True)
class ResumeOutcome:
    """What resuming one job came to: its result, or the error that stopped it."""

    job: LedgerJob
    result: JobResult | None = None
    error: LipbridgeError | None = None


class NeedsReconciling(SubmitOutcomeUnknown):
    """An unknown job lipbridge could not settle alone: the user says what happened."""


class Jobs:
    """The ledger-backed side of a :class:`~lipbridge.client.Client`."""

    def __init__(self, client: Client, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger

    # -- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        provider: str,
        info: ProviderInfo,
        request: JobRequest,
        *,
        output: str | None = None,
        keep_lease: bool = False,
    ) -> JobHandle:
        """Record the intent, send the validated ``request``, record the handle."""
        job = self.ledger.begin(
            provider, request, estimate=self._estimate(provider, request), output=output
        )
        try:
            return self._send(job, info, request, release=not keep_lease)
        finally:
            if not keep_lease:
                self.ledger.release(job.local_id)

    def _estimate(self, provider: str, request: JobRequest) -> CostEstimate | None:
        """What the job should cost, where that is known offline; never a reason to stop.

        Only local inputs can be measured offline; for URLs the length, and so the price,
        is unknown until the provider bills.
        """
        if not any(ref and local_path(ref) for ref in (request.video, request.audio)):
            return None
        try:
            return self.client.estimate_cost(provider, request)
        except LipbridgeError:
            return None

    def _send(
        self, job: LedgerJob, info: ProviderInfo, request: JobRequest, *, release: bool = False
    ) -> JobHandle:
        key = job.local_id if info.idempotency_header else None
        try:
            handle = self.client.send(job.provider, info, request, idempotency_key=key)
        except SubmitOutcomeUnknown as exc:
            self.ledger.submit_failed(job.local_id, exc, unknown=True)
            exc.details["local_id"] = job.local_id
            raise
        except LipbridgeError as exc:  # refused before acceptance: nothing was billed
            self.ledger.submit_failed(job.local_id, exc, unknown=False)
            raise
        except BaseException as exc:  # Ctrl-C or a crash mid-send: it may have arrived
            self.ledger.submit_failed(job.local_id, exc, unknown=True)
            raise
        handle = attrs.evolve(handle, local_id=job.local_id)
        try:
            self.ledger.submitted(job.local_id, handle, release=release)
        except LedgerError as exc:
            raise LedgerError(
                f"{exc.message}. The provider accepted the job; keep its handle to follow "
                f"it: {handle.to_json()}",
                path=exc.path,
            ) from None
        return handle

    # -- waiting and fetching -----------------------------------------------------------------

    def run(
        self,
        provider: str,
        info: ProviderInfo,
        request: JobRequest,
        *,
        output: str | os.PathLike[str] | None = None,
        timeout: float | None = 1800.0,
        on_progress: Progress | None = None,
        on_submitted: Callable[[JobHandle], None] | None = None,
    ) -> JobResult:
        target = check_output_path(output) if output is not None else None
        handle = self.submit(
            provider,
            info,
            request,
            output=str(target) if target else None,
            keep_lease=True,
        )
        assert handle.local_id is not None
        try:
            if on_submitted is not None:
                on_submitted(handle)
            result = self._wait(handle.local_id, handle, timeout, on_progress)
            if target is not None:
                self._fetch(handle.local_id, handle, result, target)
            return result
        finally:
            self.ledger.release(handle.local_id)

    def wait(
        self,
        handle: JobHandle,
        *,
        timeout: float | None,
        on_progress: Progress | None = None,
        cancel_on_timeout: bool = False,
    ) -> JobResult:
        """Wait for a job, recording what each poll sees when the ledger knows the job."""
        local_id = self.ledger.locate(handle)
        if local_id is None:
            return self.client.wait_unrecorded(
                handle,
                timeout=timeout,
                on_progress=on_progress,
                cancel_on_timeout=cancel_on_timeout,
            )
        with self.ledger.driving(local_id):
            return self._wait(
                local_id, handle, timeout, on_progress, cancel_on_timeout, release_when_done=True
            )

    def _wait(
        self,
        local_id: str,
        handle: JobHandle,
        timeout: float | None,
        on_progress: Progress | None,
        cancel_on_timeout: bool = False,
        *,
        release_when_done: bool = False,
    ) -> JobResult:
        last: list[JobStatus] = []

        def observe(status: JobStatus) -> None:
            release = release_when_done and status.state.terminal
            self.ledger.observed(local_id, status, last[-1] if last else None, release=release)
            last[:] = [status]
            if on_progress is not None:
                on_progress(status)

        try:
            return self.client.wait_unrecorded(
                handle, timeout=timeout, on_progress=observe, cancel_on_timeout=cancel_on_timeout
            )
        except JobFailed:
            raise  # the failed status was observed and recorded
        except LipbridgeError as exc:
            self.ledger.step_failed(local_id, exc)
            raise

    def download(self, ref: str, path: str | os.PathLike[str] | None = None) -> Path:
        """Fetch a finished job's video again, to ``path`` or where it was asked for.

        A stored URL that has expired is refreshed by polling the job first.
        """
        job = self.ledger.get(ref)
        target = path if path is not None else job.output_path
        if target is None:
            raise InvalidRequest(
                f"job {job.local_id} was run without an output file; give a PATH",
                field="path",
            )
        checked = check_output_path(target)
        with self.ledger.driving(job.local_id):
            handle = self._handle(job)
            result = job.result
            if result is None:
                raise InvalidRequest(
                    f"job {job.local_id} is {job.state.value}; it has no result to download",
                    field="job",
                )
            if str(checked) != job.output_path:
                self.ledger.set_output(job.local_id, str(checked))
            return self._fetch(job.local_id, handle, result, checked)

    def _fetch(self, local_id: str, handle: JobHandle, result: JobResult, target: Path) -> Path:
        now = self.client.clock.now()
        if result.expires_at is not None and result.expires_at <= now:
            result = self._fresh_result(local_id, handle)
        try:
            saved = self.client.download(result, target)
        except DownloadFailed as exc:
            if exc.http_status not in EXPIRED_URL_STATUSES:
                self.ledger.step_failed(local_id, exc)
                raise
            saved = self.client.download(self._fresh_result(local_id, handle), target)
        except LipbridgeError as exc:
            self.ledger.step_failed(local_id, exc)
            raise
        size, sha256 = _digest(saved)
        self.ledger.downloaded(local_id, saved, size, sha256)
        return saved

    def _fresh_result(self, local_id: str, handle: JobHandle) -> JobResult:
        """Poll once for a new result URL (providers that sign theirs give a fresh one)."""
        status = self.client.poll(handle)
        self.ledger.observed(local_id, status, None)
        if status.result is None:
            raise DownloadFailed(
                f"job {local_id}'s result URL has expired and the provider gives no new one "
                f"({status.raw_status})"
            )
        return status.result

    # -- resuming and reconciling -------------------------------------------------------------

    def resume(
        self, ref: str, *, timeout: float | None = 1800.0, on_progress: Progress | None = None
    ) -> JobResult | None:
        """Take a job as far as it can go: reconcile, submit, wait, download.

        Returns the result (None for a job that was refused); raises what stops it.
        """
        job = self.ledger.get(ref)
        with self.ledger.driving(job.local_id):
            job = self.ledger.get(job.local_id)  # as it is now that it is ours
            if job.state is LocalState.SUBMITTING:  # its lease lapsed: its submitter is gone
                self.ledger.orphaned(job.local_id)
            if job.state in (LocalState.SUBMITTING, LocalState.UNKNOWN):
                self._settle(job)
                job = self.ledger.get(job.local_id)
            if job.state is LocalState.NOT_SUBMITTED:
                info = self.client.registry.info(job.provider)
                self.ledger.resubmitting(job.local_id)
                self._send(job, info, job.request)
                job = self.ledger.get(job.local_id)
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
                self._fetch(job.local_id, handle, result, Path(job.output_path))
            return result

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
            try:
                result = self.resume(job.local_id, timeout=timeout, on_progress=progress)
            except LipbridgeError as exc:
                return ResumeOutcome(job=self.ledger.get(job.local_id), error=exc)
            return ResumeOutcome(job=self.ledger.get(job.local_id), result=result)

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return list(pool.map(one, self.ledger.unfinished()))

    def _settle(self, job: LedgerJob) -> None:
        """Find out what became of a submit whose answer was lost, without paying twice:
        re-send under the same idempotency key, else look the job up at the provider."""
        info = self.client.registry.info(job.provider)
        if info.idempotency_header:
            self._send(job, info, job.request)  # the provider answers with the same job
            return
        found = self.client.find_jobs(job.provider, job.request, job.created_at - CLOCK_SKEW)
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
    def _handle(job: LedgerJob) -> JobHandle:
        if job.handle is None:
            raise InvalidRequest(
                f"job {job.local_id} is {job.state.value}: the provider never answered its "
                "submit, so there is nothing to follow",
                field="job",
            )
        return job.handle

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


__all__ = ["JobBusy", "Jobs", "NeedsReconciling", "ResumeOutcome"]
