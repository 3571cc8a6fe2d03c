"""The workflows: one per job, one per batch, one semaphore per provider. Deterministic:
every call to a provider, the ledger or the disk is an activity (:mod:`.activities`),
called by name so that this module imports nothing of lipbridge's I/O."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as StepTimeout
from temporalio.workflow import ParentClosePolicy

if TYPE_CHECKING:
    from collections.abc import Callable

with workflow.unsafe.imports_passed_through():
    from lipbridge_temporal.names import (
        WORKFLOW_QUEUE,
        callback_workflow_id,
        cap_workflow_id,
        job_workflow_id,
        provider_queue,
        submit_queue,
    )
    from lipbridge_temporal.specs import (
        BatchInput,
        BatchProgress,
        Callback,
        JobSpec,
        Outcome,
        Polled,
        Saved,
        Submitted,
    )

# A submit is re-sent by Temporal only under the provider's idempotency key; errors that
# no retry changes end it at once.
FINAL_REFUSALS = [
    "AuthenticationError",
    "InvalidRequest",
    "UnsupportedOption",
    "UnsupportedCapability",
    "InsufficientCredits",
    "ConfigurationError",
    "PluginContractError",
    "NeedsReconciling",
]
KEYED_SUBMIT = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=6,
    non_retryable_error_types=FINAL_REFUSALS,
)
ONCE = RetryPolicy(maximum_attempts=1)
# Polls, downloads and reconciliation never pay twice: retried while they may still work.
SAFE = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=20,
    non_retryable_error_types=FINAL_REFUSALS,
)
# A local activity's last failure reaches the workflow as itself, not in an ActivityError
# (seen with this SDK: the job's workflow failed, its batch never told, on a failed acquire).
LOCAL_FAILURES = (ActivityError, ApplicationError, StepTimeout)
NOT_SENT = "cancelled before its submit: nothing was sent"
# An error's text a batch keeps of each row: 800 rows' outcomes are carried across
# continue-as-new and returned, and must stay far below Temporal's 2 MB payload limit.
ERROR_CHARS = 500
POLL_SECONDS = 60  # one poll's longest run (a request with the client's own timeouts)
T = TypeVar("T")


def _refused(err: ActivityError) -> str | None:
    """The refusal's message when the provider definitely took nothing, else None."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details and cause.details[0] == "refused":
        return cause.message
    return None


def _message(err: BaseException) -> str:
    """The innermost cause of a Temporal error (an activity's, a child's), named."""
    while getattr(err, "cause", None) is not None:
        err = err.cause  # type: ignore[attr-defined]
    return f"{type(err).__name__}: {err}"


@workflow.defn(name="LipbridgeJob")
class JobWorkflow:
    """Submit (intent recorded first by the worker), reconcile an unknown outcome, poll on
    durable timers (or at once when a callback arrives), download, and end with the job's
    outcome. A cap slot at the provider is held from before the submit to the end."""

    def __init__(self) -> None:
        self._granted = False
        self._cancel = False  # asked to cancel; sent to the provider once submitted
        self._cancel_sent = False
        self._callback: Callback | None = None
        self._so_far: Outcome | None = None  # what is known of the job's end so far
        self.phase = "queued"

    @workflow.signal(name="granted")
    def granted(self) -> None:
        self._granted = True

    @workflow.signal(name="callback")
    def callback(self, news: Callback) -> None:
        self._callback = news

    @workflow.signal(name="cancel")
    def cancel(self) -> None:
        """Cancel the job: before its submit, nothing is sent; after, the provider's
        cancel is asked (where the model has one) and the job followed to its end."""
        self._cancel = True

    @workflow.query(name="phase")
    def phase_of(self) -> str:
        return self.phase

    @workflow.run
    async def run(self, spec: JobSpec) -> Outcome:
        self._so_far = Outcome(
            local_id=spec.local_id, provider=spec.provider, line=spec.line, state="unknown"
        )
        asked = False
        try:
            if spec.cap:
                asked = True
                await workflow.execute_local_activity(  # it only signals: idempotent
                    "lipbridge.acquire",
                    args=[spec.provider, spec.cap, workflow.info().workflow_id],
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=SAFE,
                )
                await workflow.wait_condition(lambda: self._granted or self._cancel)
            if self._cancel:  # nothing sent: the row is as if never started
                outcome = replace(self._so_far, state="pending", error=NOT_SENT)
            else:
                outcome = await self._job(spec)
        except LOCAL_FAILURES as err:  # a step that kept failing; the job may still run
            state = "waiting" if self._so_far.provider_job_id else "unknown"
            if self.phase == "queued":  # the cap's acquire: nothing was sent
                state = "pending"
            outcome = replace(self._so_far, state=state, error=_message(err))
        finally:
            if asked:  # a slot held, or a place in the queue: given back
                cap = workflow.get_external_workflow_handle(cap_workflow_id(spec.provider))
                # A cap workflow gone (terminated) holds nothing to give back; failing
                # here would lose the outcome, and the batch would wait for it forever.
                with contextlib.suppress(Exception):
                    await cap.signal("release", workflow.info().workflow_id)
        parent = workflow.info().parent
        if parent is not None:  # a batch's job: the batch learns its end by this signal
            with contextlib.suppress(Exception):
                batch = workflow.get_external_workflow_handle(parent.workflow_id)
                await batch.signal("ended", outcome)
        return outcome

    async def _step(
        self,
        name: str,
        args: list[object],
        result: type[T],
        spec: JobSpec,
        queue: str,
        policy: RetryPolicy,
    ) -> T:
        """Run activity ``name``; a worker that stops heartbeating loses it to another."""
        done: T = await workflow.execute_activity(
            name,
            args=args,
            result_type=result,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=spec.timeout),
            heartbeat_timeout=timedelta(seconds=spec.liveness),
            retry_policy=policy,
        )
        return done

    async def _job(self, spec: JobSpec) -> Outcome:
        ended = Outcome(
            local_id=spec.local_id,
            provider=spec.provider,
            line=spec.line,
            output=spec.output,
            state="unknown",
        )
        self.phase = "submitting"
        policy = KEYED_SUBMIT if spec.keyed else ONCE
        try:
            submitted = await self._step(
                "lipbridge.submit", [spec], Submitted, spec, submit_queue(spec.provider), policy
            )
        except ActivityError as err:
            refused = _refused(err)
            if refused is not None:
                return replace(ended, state="rejected", error=refused)
            # Unknown: the answer was lost, or the worker died mid-submit (a timeout).
            # Never re-sent blindly: the core's reconciliation finds the job, or says why not.
            try:
                submitted = await self._step(
                    "lipbridge.reconcile",
                    [spec],
                    Submitted,
                    spec,
                    provider_queue(spec.provider),
                    SAFE,
                )
            except ActivityError as again:
                refused = _refused(again)
                state = "rejected" if refused is not None else "unknown"
                return replace(ended, state=state, error=refused or _message(again))
        ended = self._so_far = replace(ended, provider_job_id=_job_id(submitted.handle_json))
        if spec.callbacks and ended.provider_job_id:
            await self._listen(spec.provider, ended.provider_job_id)
        self.phase = "running"
        polled = await self._wait(spec, submitted)
        if polled is None:
            return replace(ended, state="waiting", error="not finished by the deadline")
        ended = replace(ended, billed=polled.billed, result_url=polled.result_url)
        if polled.state != "succeeded":
            return replace(ended, state="failed", error=polled.error or polled.raw_status)
        if spec.output is None:
            return replace(ended, state="done")
        self.phase = "downloading"
        try:
            saved = await self._step(
                "lipbridge.download",
                [spec, submitted.handle_json],
                Saved,
                spec,
                provider_queue(spec.provider),
                SAFE,
            )
        except ActivityError as err:  # paid for and finished: `lipbridge jobs download` it
            return replace(
                ended, state="failed", error=f"the video could not be saved: {_message(err)}"
            )
        return replace(ended, state="done", output=saved.path, size=saved.size, sha256=saved.sha256)

    async def _listen(self, provider: str, provider_job_id: str) -> None:
        """Start the relay a callback receiver signals by the provider's job id (all a
        callback carries); it ends with this workflow."""
        try:
            await workflow.start_child_workflow(
                CallbackRelay.run,
                workflow.info().workflow_id,
                id=callback_workflow_id(provider, provider_job_id),
                task_queue=WORKFLOW_QUEUE,
                parent_close_policy=ParentClosePolicy.TERMINATE,
            )
        except Exception as exc:  # no relay: the polls, at a fallback's pace, still end it
            workflow.logger.warning("no callback relay: %s", _message(exc))

    async def _wait(self, spec: JobSpec, submitted: Submitted) -> Polled | None:
        """Poll until the job ends; sleep on durable timers in between, cut short by a
        callback signal. None when the deadline passes first."""
        deadline = workflow.now() + timedelta(seconds=spec.timeout)
        last: Polled | None = None
        delay = spec.first_poll
        while True:
            left = (deadline - workflow.now()).total_seconds()
            if left <= 0:
                return None
            with contextlib.suppress(asyncio.TimeoutError):  # the timer ran out: poll
                await workflow.wait_condition(
                    lambda: self._callback is not None or self._cancel > self._cancel_sent,
                    timeout=min(delay, left),
                )
            if self._cancel > self._cancel_sent:  # asked once; then polled to its end
                self._cancel_sent = True
                await self._cancel_at_provider(spec, submitted)
            news, self._callback = self._callback, None
            if news is not None:  # polled at once: a callback is believed through a poll
                workflow.logger.info("callback %s: polling now", news.raw_status)
            # A local activity: one short, idempotent request, run by the worker that
            # runs this workflow (it serves the provider: the job's queue is the
            # provider's), with no task of its own to dispatch through the server. A
            # worker lost mid-poll loses its workflow task, and the next worker polls again.
            last = await workflow.execute_local_activity(
                "lipbridge.poll",
                args=[spec, submitted.handle_json, last],
                result_type=Polled,
                start_to_close_timeout=timedelta(seconds=POLL_SECONDS),
                retry_policy=SAFE,
            )
            if last.terminal:
                return last
            delay = last.delay


    async def _cancel_at_provider(self, spec: JobSpec, submitted: Submitted) -> None:
        """The provider's cancel, recorded in the worker's ledger. A model without one,
        or a cancel that fails, is logged: the job runs on and is followed (and billed)."""
        try:
            after = await self._step(
                "lipbridge.cancel",
                [spec, submitted.handle_json],
                str,
                spec,
                provider_queue(spec.provider),
                SAFE,
            )
        except ActivityError as err:
            workflow.logger.warning("not cancelled: %s", _message(err))
        else:
            workflow.logger.info("cancel asked: %s", after)


@workflow.defn(name="LipbridgeCallbackRelay")
class CallbackRelay:
    """Passes each ``callback`` signal on to the job workflow it was started for."""

    def __init__(self) -> None:
        self._news: list[Callback] = []

    @workflow.signal(name="callback")
    def callback(self, news: Callback) -> None:
        self._news.append(news)

    @workflow.run
    async def run(self, job_workflow_id: str) -> None:
        job = workflow.get_external_workflow_handle(job_workflow_id)
        while True:
            await workflow.wait_condition(lambda: bool(self._news))
            news = self._news.pop(0)
            with contextlib.suppress(Exception):  # the job ended meanwhile
                await job.signal("callback", news)


def _job_id(handle_json: str) -> str | None:
    import json

    value = json.loads(handle_json).get("job_id")
    return value if isinstance(value, str) else None


@workflow.defn(name="LipbridgeBatch")
class BatchWorkflow:
    """A batch: its jobs as child workflows, ``window`` in flight at a time (each
    provider's cap workflow holds it to its own limit). Each job tells the batch its
    outcome by a signal, so a run that has started a few hundred continues as new at
    once, its jobs in flight carried over (they outlive it), and its history stays small
    however large the batch."""

    def __init__(self) -> None:
        self._total = 0
        self._ended: list[Outcome] = []
        self._in_flight: dict[int, str] = {}
        self._ids: dict[int, str] = {}  # line -> local id, of the jobs in flight
        self._done: set[int] = set()  # lines ended
        self._stopped: bool | None = None  # None: not told by this run's signals

    @workflow.signal(name="ended")
    def ended(self, outcome: Outcome) -> None:
        """A job's end, told by the job (it may come before this run has begun)."""
        line = outcome.line or 0
        self._in_flight.pop(line, None)
        self._ids.pop(line, None)
        if line not in self._done:
            self._done.add(line)
            if outcome.error and len(outcome.error) > ERROR_CHARS:  # whole in the worker's ledger
                outcome = replace(outcome, error=outcome.error[:ERROR_CHARS] + "...")
            self._ended.append(outcome)

    @workflow.signal(name="stop")
    def stop(self) -> None:
        """Start no more rows (the first Ctrl-C); those in flight run on to their end."""
        self._stopped = True

    @workflow.signal(name="resume")
    def resume(self) -> None:
        """Start the rows left again (the same batch command run again)."""
        self._stopped = False

    @workflow.query(name="progress")
    def progress(self, since: int) -> BatchProgress:
        return BatchProgress(
            total=self._total,
            in_flight=dict(self._in_flight),
            ended=self._ended[since:],
            stopped=bool(self._stopped),
        )

    @workflow.run
    async def run(self, batch: BatchInput) -> list[Outcome]:
        self._ended[:0] = batch.ended  # before the ends signalled before this run began
        self._done.update(o.line or 0 for o in batch.ended)
        for line, provider in batch.in_flight.items():
            if line not in self._done:
                self._in_flight.setdefault(line, provider)
                if line in batch.ids:
                    self._ids.setdefault(line, batch.ids[line])
        self._total = len(batch.ended) + len(batch.in_flight) + len(batch.jobs)
        if self._stopped is None:  # no stop or resume came before this run began
            self._stopped = batch.stopped
        todo = list(batch.jobs)
        starting: list[asyncio.Task[None]] = []
        while todo and len(starting) < batch.continue_after:
            await self._until(
                lambda: not self._stopped and len(self._in_flight) < batch.window,
                batch.check_every,
            )
            spec = todo.pop(0)
            self._in_flight[spec.line or 0] = spec.provider
            self._ids[spec.line or 0] = spec.local_id
            starting.append(asyncio.ensure_future(self._start(spec)))
        await asyncio.gather(*starting)
        if todo:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(
                replace(
                    batch,
                    jobs=todo,
                    ended=self._ended,
                    in_flight=self._in_flight,
                    ids=self._ids,
                    stopped=bool(self._stopped),
                )
            )
        await self._until(lambda: not self._in_flight, batch.check_every)
        return self._ended

    async def _until(self, ready: Callable[[], bool], every: float) -> None:
        """Wait until ``ready``; meanwhile, while jobs are in flight, every ``every``
        seconds, end the rows whose job's workflow ended without its ``ended`` signal
        (terminated, cancelled, failed, timed out): else the batch waited forever."""
        while True:
            try:
                await workflow.wait_condition(
                    ready, timeout=every if self._ids else None
                )
                return
            except asyncio.TimeoutError:
                pass
            lines = {job_workflow_id(local_id): line for line, local_id in self._ids.items()}
            try:
                lost: list[str] = await workflow.execute_local_activity(
                    "lipbridge.lost",
                    args=[list(lines)],
                    result_type=list[str],
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=SAFE,
                )
            except LOCAL_FAILURES as err:  # asked again at the next check
                workflow.logger.warning("jobs in flight not checked: %s", _message(err))
                continue
            for job in lost:
                line = lines[job]
                if line in self._in_flight:
                    self.ended(
                        Outcome(
                            local_id=self._ids[line],
                            provider=self._in_flight[line],
                            line=line,
                            state="unknown",
                            error=f"its workflow {job} ended without an outcome "
                            "(terminated, cancelled, failed or timed out)",
                        )
                    )

    async def _start(self, spec: JobSpec) -> None:
        """Start one job; it signals ``ended`` to this batch (whichever run is current)."""
        try:
            await workflow.start_child_workflow(
                JobWorkflow.run,
                spec,
                id=job_workflow_id(spec.local_id),
                task_queue=provider_queue(spec.provider),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except Exception as exc:  # it could not start: the row ends here
            self.ended(
                Outcome(
                    local_id=spec.local_id,
                    provider=spec.provider,
                    line=spec.line,
                    state="unknown",
                    error=_message(exc),
                )
            )
