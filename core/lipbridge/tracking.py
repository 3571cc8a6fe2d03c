"""Jobs driven with the ledger recording each step: submit, run, wait, download.

:class:`~lipbridge.jobs.Jobs` (``client.jobs``) builds on this with resuming,
reconciling and reading; the client sends, this decides what is written when.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from lipbridge.errors import (
    DownloadFailed,
    InvalidRequest,
    JobFailed,
    LedgerError,
    LipbridgeError,
    SubmitOutcomeUnknown,
)
from lipbridge.ledger import EventKind, Ledger, LedgerJob, LocalState
from lipbridge.media import digest
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
    from lipbridge.callbacks import CallbackUpdate
    from lipbridge.client import Client
    from lipbridge.polling import Heard
    from lipbridge.routes import OnRoute

EXPIRED_URL_STATUSES = frozenset({403, 404, 410})

Progress = Callable[[JobStatus], None]


class TrackedJobs:
    """Submit, run, wait and download, each step written to the ledger as it happens."""

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
        batch: tuple[str, int] | None = None,
        estimate: CostEstimate | None = None,
        on_route: OnRoute | None = None,
        valid_for: float | None = None,
        local_id: str | None = None,
    ) -> JobHandle:
        """Upload the local files that need it, record the intent, send the validated
        ``request``, record the handle (``local_id``: an id given to the job elsewhere).

        ``batch`` places the job in a batch (its id and manifest line); ``estimate`` is
        the price already worked out, else it is worked out here; an upload is reused
        when still valid ``valid_for`` seconds on (the wait's timeout).
        """
        if estimate is None:
            estimate = self._estimate(provider, request)
        sent, routes = self.client.media.resolve(
            provider, info, request, ledger=self.ledger, valid_for=valid_for, on_route=on_route
        )
        job = self.ledger.begin(
            provider, request, estimate=estimate, output=output, batch=batch, routes=routes,
            sent=sent, local_id=local_id,
        )
        try:
            return self._send(job, info, sent, release=not keep_lease)
        except BaseException:
            self.ledger.release(job.local_id)  # nothing to follow: the lease is not kept
            raise
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

    def _routed_again(self, job: LedgerJob, info: ProviderInfo) -> JobRequest:
        """A recorded job's request as it is to be sent again: its local files routed anew
        (an upload still valid is reused, not repeated), the routes recorded."""
        sent, routes = self.client.media.resolve(
            job.provider, info, job.request, ledger=self.ledger
        )
        if routes:
            self.ledger.set_routes(job.local_id, routes, sent)
        return sent

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
        on_route: OnRoute | None = None,
    ) -> JobResult:
        target = check_output_path(output) if output is not None else None
        handle = self.submit(
            provider,
            info,
            request,
            output=str(target) if target else None,
            keep_lease=True,
            on_route=on_route,
            valid_for=timeout,
        )
        assert handle.local_id is not None
        try:
            if on_submitted is not None:
                on_submitted(handle)
            result = self._wait(handle.local_id, handle, timeout, on_progress)
            if target is not None:
                self.fetch(handle.local_id, handle, result, target)
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
                handle, timeout=timeout, on_progress=observe,
                cancel_on_timeout=cancel_on_timeout, heard=self.listener(local_id),
            )
        except JobFailed:
            raise  # the failed status was observed and recorded
        except LipbridgeError as exc:
            self.ledger.step_failed(local_id, exc)
            raise

    def listener(self, local_id: str) -> Heard | None:
        """For a job submitted with a callback URL: what its wait asks between polls.

        A signed callback recorded in the ledger (by ``lipbridge callbacks serve`` or
        :meth:`record_callback`) that ended the job ends the wait without a poll; any
        other callback makes the wait poll at once.
        """
        if self.ledger.get(local_id).request.callback_url is None:
            return None
        since = self.ledger.last_seq()

        def heard() -> JobStatus | bool:
            nonlocal since
            news = self.ledger.callback_after(local_id, since)
            if news is None:
                return False
            since, kind, raw = news
            if kind is EventKind.CALLBACK:
                return status_of(self.ledger.get(local_id), raw) or True
            return True

        return heard

    def record_callback(self, provider: str, update: CallbackUpdate) -> str:
        """Record a callback :meth:`Client.parse_callback` read; says what it did.

        A signed callback's status is recorded as a poll's would be; an unsigned one only
        as a hint, which makes a waiting process poll the job at once.
        """
        job = self.ledger.find(provider, update.job_id)
        if job is None:
            return f"{provider} job {update.job_id} is not in this job ledger: ignored"
        said = f"job {job.local_id} ({provider} {update.job_id}): {update.status.raw_status}"
        if update.verified:
            self.ledger.observed(job.local_id, update.status, None, kind=EventKind.CALLBACK)
            return said
        self.ledger.callback_hint(job.local_id, update.status)
        return f"{said}, unsigned: to be confirmed by a poll"

    def record_cancel(self, handle: JobHandle, status: JobStatus) -> None:
        """Record what a cancel answered, for a job this ledger has; others are left alone.

        Without it the ledger kept calling a cancelled job running, and ``jobs resume``
        went on to poll (and download) what the user had stopped.
        """
        local_id = self.ledger.locate(handle)
        if local_id is not None:
            self.ledger.observed(local_id, status, None)

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
            return self.fetch(job.local_id, handle, result, checked)

    def fetch(
        self,
        local_id: str,
        handle: JobHandle,
        result: JobResult,
        target: Path,
        *,
        release: bool = False,
    ) -> Path:
        """Download the job's video to ``target`` and record its size and sha256; an
        expired URL is refreshed by a poll first. ``release`` gives up the job's lease
        with that record (the caller releases it on failure)."""
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
        size, sha256 = digest(saved)
        self.ledger.downloaded(local_id, saved, size, sha256, release=release)
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

    @staticmethod
    def _handle(job: LedgerJob) -> JobHandle:
        if job.handle is None:
            raise InvalidRequest(
                f"job {job.local_id} is {job.state.value}: the provider never answered its "
                "submit, so there is nothing to follow",
                field="job",
            )
        return job.handle


def status_of(job: LedgerJob, raw_status: str) -> JobStatus | None:
    """The ended status a signed callback recorded for ``job``, or None if it has not ended."""
    state = {
        LocalState.SUCCEEDED: JobState.SUCCEEDED, LocalState.DOWNLOADED: JobState.SUCCEEDED,
        LocalState.FAILED: JobState.FAILED, LocalState.CANCELLED: JobState.CANCELLED,
    }.get(job.state)
    if state is None or (state is JobState.SUCCEEDED and job.result is None):
        return None
    error = None
    if state is not JobState.SUCCEEDED:
        error = JobError(message=job.error_message or f"the job ended {job.state.value}")
    return JobStatus(
        state=state, raw_status=raw_status or job.state.value, result=job.result, error=error
    )
