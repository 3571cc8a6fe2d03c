"""The activities: every step of a job that touches a provider, the ledger or the disk,
run by a worker with a lipbridge :class:`~lipbridge.Client` built as a local one is
(keys, base URLs, webhook secrets and the ledger from the worker's own environment).

Each step is the core's own code: the submit records its intent before sending
(``client.jobs.submit``), an unknown outcome is settled by the core's reconciliation
(``client.jobs.settle``: the same idempotency key, else a lookup, else the user), and
polls and downloads are recorded in the worker's ledger. A job a worker has not seen
(another host submitted it) is first recorded in this worker's ledger from its spec.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from lipbridge.convert import loads
from lipbridge.errors import InvalidRequest, JobBusy, LipbridgeError, SubmitOutcomeUnknown
from lipbridge.jobs import Jobs
from lipbridge.ledger import LedgerJob, LocalState
from lipbridge.models import JobHandle, JobRequest, JobState, JobStatus
from lipbridge.redact import mask_url, redact_message, scrub
from lipbridge.urls import check_output_path
from lipbridge_temporal.names import cap_workflow_id
from lipbridge_temporal.specs import Billed, JobSpec, Polled, Saved, Submitted

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient

    from lipbridge.client import Client

T = TypeVar("T")
HEARTBEAT_SECONDS = 1.0  # how often a running step says it is alive (the SDK throttles)


def _failure(exc: BaseException, *, refused: bool = False) -> ApplicationError:
    """``exc`` as Temporal records it: the class name and a redacted message, no cause
    chain (a third-party exception's text could hold what lipbridge scrubs). One not
    lipbridge's stays retried, as Temporal retries any (a locked ledger, a reset socket)."""
    foreign = not isinstance(exc, LipbridgeError)
    message = redact_message(exc.message if isinstance(exc, LipbridgeError) else str(exc))
    retryable = foreign or isinstance(exc, JobBusy) or bool(getattr(exc, "retryable", False))
    delay = getattr(exc, "retry_after", None)
    return ApplicationError(
        message,
        "refused" if refused else "",
        type=type(exc).__name__,
        non_retryable=refused or not retryable,
        next_retry_delay=dt.timedelta(seconds=delay) if retryable and delay else None,
    )


class JobActivities:
    """The activities of :class:`~lipbridge_temporal.workflows.JobWorkflow`, on one
    worker's client. Blocking lipbridge calls run on a thread pool of their own while
    the activity heartbeats, so a killed worker is noticed within the job's liveness."""

    def __init__(self, client: Client, temporal: TemporalClient, *, threads: int = 64) -> None:
        self.client = client
        self.temporal = temporal
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lipbridge")
        self._rng = random.Random()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def all(self) -> list[Callable[..., object]]:
        return [self.submit, self.reconcile, self.poll, self.download, self.cancel, self.acquire]

    async def _beating(self, step: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(self._pool, step)
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
            if done:
                try:
                    return task.result()
                except ApplicationError:
                    raise
                except Exception as exc:  # not lipbridge's: its text, its cause, its URLs
                    raise _failure(exc) from None
            if not activity.info().is_local:  # a local one's liveness is its workflow task's
                activity.heartbeat()

    @property
    def jobs(self) -> Jobs:
        jobs = self.client.jobs
        if jobs is None:
            raise ApplicationError("a worker needs a job ledger", non_retryable=True)
        return jobs

    # -- submitting ---------------------------------------------------------------------------

    @activity.defn(name="lipbridge.submit")
    async def submit(self, spec: JobSpec) -> Submitted:
        return await self._beating(lambda: self._submit(spec))

    def _submit(self, spec: JobSpec) -> Submitted:
        jobs = self.jobs
        known = _known(jobs, spec.local_id)
        if known is not None:  # a retry: only keyed providers get one (the same key)
            return self._settle(spec)
        request = loads(spec.request_json, JobRequest)
        try:
            info, request = self.client.prepare(spec.provider, request)
            handle = jobs.submit(
                spec.provider,
                info,
                request,
                output=spec.output,
                local_id=spec.local_id,
                valid_for=spec.timeout,
            )
        except SubmitOutcomeUnknown as exc:
            raise _failure(exc) from None
        except LipbridgeError as exc:  # refused before or without any intent: nothing billed
            job = _known(jobs, spec.local_id)
            raise _failure(exc, refused=job is None or job.state is LocalState.REJECTED) from None
        return Submitted(handle_json=scrub(handle.to_json()))

    @activity.defn(name="lipbridge.reconcile")
    async def reconcile(self, spec: JobSpec) -> Submitted:
        return await self._beating(lambda: self._settle(spec))

    def _settle(self, spec: JobSpec) -> Submitted:
        """What became of a submit whose outcome is unknown, by the core's own rules."""
        jobs = self.jobs
        if _known(jobs, spec.local_id) is None:  # it was sent (maybe) from another host
            _adopt(jobs, spec, None)
        try:
            with jobs.ledger.driving(spec.local_id):
                job = jobs.settle(spec.local_id)
        except LipbridgeError as exc:
            raise _failure(exc) from None
        if job.state is LocalState.REJECTED:
            raise _failure(LipbridgeError(job.error_message or "refused"), refused=True)
        if job.handle is None:
            raise _failure(LipbridgeError(f"job {job.local_id} is {job.state.value}"))
        return Submitted(handle_json=scrub(job.handle.to_json()), how="reconciled")

    # -- waiting and fetching -----------------------------------------------------------------

    @activity.defn(name="lipbridge.poll")
    async def poll(self, spec: JobSpec, handle_json: str, last: Polled | None) -> Polled:
        return await self._beating(lambda: self._poll(spec, handle_json, last))

    def _poll(self, spec: JobSpec, handle_json: str, last: Polled | None) -> Polled:
        jobs = self.jobs
        handle = JobHandle.from_json(handle_json)
        if _known(jobs, spec.local_id) is None:
            _adopt(jobs, spec, handle)
        previous = None
        if last is not None:
            previous = JobStatus(state=JobState(last.state), raw_status=last.raw_status)
        try:
            with jobs.ledger.driving(spec.local_id):
                status = self.client.poll(handle)
                jobs.ledger.observed(spec.local_id, status, previous)
        except LipbridgeError as exc:
            raise _failure(exc) from None
        policy = self.client.poll_policy
        if spec.callbacks:
            policy = policy.for_callbacks()
        if status.poll_after is not None:
            delay = policy.hinted(status.poll_after)
        else:
            waited = (self.client.clock.now() - handle.created_at).total_seconds()
            delay = policy.interval(waited, self._rng)
        result = status.result
        billed = result.billed if result is not None else None
        return Polled(
            state=status.state.value,
            raw_status=status.raw_status,
            terminal=status.state.terminal,
            delay=delay,
            # a provider's error often echoes the input URL it could not fetch, signed
            error=redact_message(status.error.message) if status.error else None,
            billed=Billed(
                amount=str(billed.amount),
                unit=billed.unit,
                usd=str(billed.usd) if billed.usd is not None else None,
            )
            if billed is not None
            else None,
            result_url=mask_url(result.video_url) if result is not None else None,
        )

    @activity.defn(name="lipbridge.download")
    async def download(self, spec: JobSpec, handle_json: str) -> Saved:
        return await self._beating(lambda: self._download(spec, handle_json))

    def _download(self, spec: JobSpec, handle_json: str) -> Saved:
        jobs = self.jobs
        handle = JobHandle.from_json(handle_json)
        if _known(jobs, spec.local_id) is None:
            _adopt(jobs, spec, handle)
        assert spec.output is not None
        try:
            target = check_output_path(spec.output)
            with jobs.ledger.driving(spec.local_id):
                job = jobs.ledger.get(spec.local_id)
                result = job.result
                if result is None:  # polled on another host: ask again for the URL
                    status = self.client.poll(handle)
                    jobs.ledger.observed(spec.local_id, status, None)
                    result = status.result
                if result is None:
                    raise LipbridgeError(f"job {spec.local_id} has no result to download")
                saved = jobs.fetch(spec.local_id, handle, result, target)
        except LipbridgeError as exc:
            raise _failure(exc) from None
        job = jobs.ledger.get(spec.local_id)
        return Saved(path=str(saved), size=job.output_size or 0, sha256=job.output_sha256 or "")

    @activity.defn(name="lipbridge.cancel")
    async def cancel(self, spec: JobSpec, handle_json: str) -> str:
        """Ask the provider to cancel the job (recorded in this worker's ledger); what it
        answered. A model without a cancel fails it at once (``UnsupportedCapability``)."""
        return await self._beating(lambda: self._cancel(spec, handle_json))

    def _cancel(self, spec: JobSpec, handle_json: str) -> str:
        jobs = self.jobs
        handle = JobHandle.from_json(handle_json)
        if _known(jobs, spec.local_id) is None:
            _adopt(jobs, spec, handle)
        try:
            status = self.client.cancel(handle)
        except LipbridgeError as exc:
            raise _failure(exc) from None
        return f"{status.state.value} ({scrub(status.raw_status)})"

    # -- the provider's cap -----------------------------------------------------------------

    @activity.defn(name="lipbridge.ended")
    async def ended(self, holders: list[str]) -> list[str]:
        """The cap's holders that ended without giving their slot back."""
        return await ended_holders(self.temporal, holders)

    @activity.defn(name="lipbridge.lost")
    async def lost(self, jobs: list[str]) -> list[str]:
        """A batch's jobs (workflow ids) that ended without completing: terminated,
        cancelled, failed or timed out, none of which tells its batch how it ended."""
        return await ended_holders(self.temporal, jobs, completed=False)

    @activity.defn(name="lipbridge.acquire")
    async def acquire(self, provider: str, limit: int, who: str) -> None:
        """Ask ``provider``'s cap workflow for a slot (starting it if it is not running):
        it signals ``granted`` to ``who`` when one is free."""
        from lipbridge_temporal.cap import CapState, CapWorkflow
        from lipbridge_temporal.names import WORKFLOW_QUEUE

        await self.temporal.start_workflow(
            CapWorkflow.run,
            CapState(provider=provider, limit=limit),
            id=cap_workflow_id(provider),
            task_queue=WORKFLOW_QUEUE,
            start_signal="acquire",
            start_signal_args=[who, limit],
        )


async def ended_holders(
    temporal: TemporalClient, holders: list[str], *, completed: bool = True
) -> list[str]:
    """Those of ``holders`` (workflow ids) whose workflow no longer runs or is gone
    (``completed=False``: and did not complete); one the server cannot tell about now is
    kept (asked again at the next check)."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    ended = []
    for who in holders:
        try:
            described = await temporal.get_workflow_handle(who).describe()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                ended.append(who)
            continue
        running = described.status is WorkflowExecutionStatus.RUNNING
        if not running and (completed or described.status is not WorkflowExecutionStatus.COMPLETED):
            ended.append(who)
    return ended


def _known(jobs: Jobs, local_id: str) -> LedgerJob | None:
    try:
        return jobs.ledger.get(local_id)
    except InvalidRequest:
        return None


def _adopt(jobs: Jobs, spec: JobSpec, handle: JobHandle | None) -> None:
    """Record in this worker's ledger a job another worker took up: followed by its
    handle, or (``None``) as a submit whose outcome is unknown, to be reconciled."""
    ledger = jobs.ledger
    request = loads(spec.request_json, JobRequest)
    ledger.begin(spec.provider, request, output=spec.output, local_id=spec.local_id)
    try:
        if handle is not None:
            ledger.reconciled(spec.local_id, handle, "submitted by another Temporal worker")
        else:
            lost = SubmitOutcomeUnknown(
                "its submit was taken up by another Temporal worker, which was lost before "
                "the answer was recorded",
                details={"local_id": spec.local_id},
            )
            ledger.submit_failed(spec.local_id, lost, unknown=True)
    finally:
        ledger.release(spec.local_id)
