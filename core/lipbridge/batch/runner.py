"""Running a batch: every row driven at once on the event loop, within the caps, each
attempt a job in the ledger, so that running it again continues where it stopped.

A row moves to its next provider only on a definite refusal before acceptance
(:data:`FALLBACK`), never after acceptance or an unknown outcome. A rate limit whose
``Retry-After`` ends within the row's deadline (``timeout`` from its first refusal) is
waited out and the same provider asked again; only one beyond it moves the row.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from attrs import field, frozen

from lipbridge.aio import AsyncClient
from lipbridge.batch.plan import RowPlan
from lipbridge.errors import (
    InsufficientCredits,
    JobBusy,
    JobFailed,
    LipbridgeError,
    ProviderUnavailable,
    RateLimited,
    SubmitOutcomeUnknown,
    UnsupportedCapability,
    UnsupportedOption,
    WaitTimeout,
)
from lipbridge.jobs import Jobs
from lipbridge.ledger.records import LedgerJob, LocalState
from lipbridge.models import JobHandle, JobResult, JobStatus

# Refusals that prove the provider took nothing, so the next provider may be tried.
FALLBACK: tuple[type[LipbridgeError], ...] = (
    InsufficientCredits,
    RateLimited,
    ProviderUnavailable,
    UnsupportedOption,
    UnsupportedCapability,
)
_FALLBACK_NAMES = frozenset(cls.__name__ for cls in FALLBACK)


class RowState(str, enum.Enum):
    DONE = "done"  # the video is there (downloaded, or the result when no output)
    FAILED = "failed"  # the job failed or was cancelled at the provider
    REJECTED = "rejected"  # every provider refused it; nothing was billed
    UNKNOWN = "unknown"  # a submit's outcome is unknown: `jobs reconcile`, then resume
    WAITING = "waiting"  # submitted, not finished by the deadline or when stopped
    BUSY = "busy"  # another process drives its job
    PENDING = "pending"  # not submitted: submitting was stopped (Ctrl-C)


class Phase(str, enum.Enum):
    """Where a row is before it has an outcome (:class:`RowState`)."""

    QUEUED = "queued"  # holds no place: not submitted yet, or between two tries
    SUBMITTING = "submitting"  # holds a place; its submit is paced, then sent
    RUNNING = "running"  # its job is at the provider, polled until it ends
    DOWNLOADING = "downloading"  # its video is being saved


class Tally:
    """Rows per phase and per outcome, and jobs in flight per provider, kept as rows move
    so that a live display can read them whenever it redraws: a few counter updates a
    row, none a poll."""

    __slots__ = ("ended", "in_flight", "phases")

    def __init__(self, rows: int) -> None:
        self.phases: Counter[Phase] = Counter({Phase.QUEUED: rows})
        self.ended: Counter[RowState] = Counter()
        self.in_flight: Counter[str] = Counter()  # per provider: jobs holding a place

    def enter(self, provider: str, phase: Phase) -> None:
        self.phases[Phase.QUEUED] -= 1
        self.phases[phase] += 1
        self.in_flight[provider] += 1

    def move(self, old: Phase, new: Phase) -> None:
        self.phases[old] -= 1
        self.phases[new] += 1

    def leave(self, provider: str, phase: Phase) -> None:
        self.phases[phase] -= 1
        self.phases[Phase.QUEUED] += 1
        self.in_flight[provider] -= 1

    def end(self, state: RowState) -> None:
        self.phases[Phase.QUEUED] -= 1
        self.ended[state] += 1


@frozen(kw_only=True)
class Caps:
    """Concurrency and pace: jobs in flight (submitted, not finished) per provider and
    in all, and submits per second per provider."""

    per_provider: Mapping[str, int] = field(factory=dict)
    default_per_provider: int = 8
    total: int = 256
    submits_per_second: float | None = None

    def of(self, provider: str, declared: int | None = None) -> int:
        """The cap for ``provider``: given here, else what its plugin declares
        (``ProviderInfo.max_concurrent_jobs``), else the default."""
        return self.per_provider.get(provider) or declared or self.default_per_provider


@frozen(kw_only=True)
class RowOutcome:
    line: int
    state: RowState
    provider: str | None = None
    local_id: str | None = None
    result: JobResult | None = None
    output: str | None = None
    error: str | None = None
    attempts: tuple[str, ...] = ()  # the providers tried, in order


Observer = Callable[[int, str, JobStatus | None], None]  # (line, provider, status)
Sleep = Callable[[float], Awaitable[None]]


def _said(provider: str, message: str) -> str:
    """``message`` as said by ``provider``: provider errors already name it."""
    prefix = f"{provider}: "
    return message if message.startswith(prefix) else prefix + message


class _Pace:
    """At most ``rate`` submits a second to one provider, spaced evenly."""

    def __init__(self, rate: float | None, now: Callable[[], float], sleep: Sleep) -> None:
        self._gap = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._now = now
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._gap:
            return
        async with self._lock:
            delay = self._next - self._now()
            if delay > 0:
                await self._sleep(delay)
            self._next = max(self._now(), self._next) + self._gap


class BatchRun:
    """One run of a batch. :meth:`stop_submitting` (the first Ctrl-C) lets jobs already
    submitted finish and submits nothing more; :attr:`tally` counts its rows as they go."""

    def __init__(
        self,
        aio: AsyncClient,
        batch_id: str,
        plans: Sequence[RowPlan],
        caps: Caps,
        *,
        timeout: float | None = 1800.0,
        retry_failed: bool = False,
        observe: Observer | None = None,
    ) -> None:
        jobs = aio.sync.jobs
        if jobs is None:
            raise LipbridgeError("a batch needs the job ledger (a client with ledger=False)")
        self.aio = aio
        self.jobs: Jobs = jobs
        self.batch_id = batch_id
        self.plans = plans
        self.caps = caps
        self.timeout = timeout
        self.retry_failed = retry_failed
        self.observe = observe
        self.stopping = False
        self.tally = Tally(len(plans))
        clock = aio.sync.clock
        self._now = clock.monotonic
        self._total = asyncio.Semaphore(caps.total)
        providers = {p for plan in plans for p in plan.providers}
        self._slots = {
            p: asyncio.Semaphore(caps.of(p, aio.sync.info(p).max_concurrent_jobs))
            for p in providers
        }
        self._pace = {
            p: _Pace(caps.submits_per_second, clock.monotonic, aio._sleep) for p in providers
        }

    def stop_submitting(self) -> None:
        self.stopping = True

    async def outcomes(self) -> AsyncIterator[RowOutcome]:
        """Each row's outcome as it comes, in the order rows finish. Left early (the
        second Ctrl-C, a caller that stops reading), it cancels the rows still going and
        waits for them to give back their jobs' leases, while the thread pool is open."""
        attempts = await self.aio._thread(self.jobs.ledger.batch_attempts, self.batch_id)
        tasks = [
            asyncio.ensure_future(self._counted(plan, attempts.get(plan.row.line, [])))
            for plan in self.plans
        ]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- one row --------------------------------------------------------------------------------

    async def _counted(self, plan: RowPlan, attempts: list[LedgerJob]) -> RowOutcome:
        """The row's outcome, counted the moment it has one, not when the caller reads it."""
        outcome = await self._row(plan, attempts)
        self.tally.end(outcome.state)
        return outcome

    async def _row(self, plan: RowPlan, attempts: list[LedgerJob]) -> RowOutcome:
        tried = tuple(job.provider for job in attempts)
        last = attempts[-1] if attempts else None
        line = plan.row.line
        if last is not None:
            outcome = await self._from_last(plan, last, tried)
            if outcome is not None:
                return outcome
        start = 0
        fell_back = (
            last is not None
            and last.state is LocalState.REJECTED
            and last.error_class in _FALLBACK_NAMES
            and last.provider in plan.providers
        )
        if last is not None and fell_back:
            start = plan.providers.index(last.provider) + 1
        if start >= len(plan.providers):  # every provider refused it last time: again
            start = 0
        refusals = [_said(last.provider, last.error_message or "")] if last and start else []
        deadline: float | None = None  # set by the first rate limit
        providers = list(plan.providers[start:])
        while providers:
            provider = providers[0]
            if self.stopping:
                return RowOutcome(line=line, state=RowState.PENDING, attempts=tried)
            tried += (provider,)
            try:
                return await self._submit_and_follow(plan, provider, tried)
            except RateLimited as exc:
                if deadline is None and self.timeout is not None:
                    deadline = self._now() + self.timeout
                wait = exc.retry_after
                if wait is not None and (deadline is None or self._now() + wait < deadline):
                    if self.stopping:
                        return RowOutcome(line=line, state=RowState.PENDING, attempts=tried)
                    await self.aio._sleep(wait)  # waited out: the same provider again
                    continue
                refusals.append(_said(provider, exc.message))
            except FALLBACK as exc:  # refused before acceptance: try the next provider
                refusals.append(_said(provider, exc.message))
            providers.pop(0)
        return RowOutcome(
            line=line, state=RowState.REJECTED, attempts=tried, error="; ".join(refusals)
        )

    async def _from_last(
        self, plan: RowPlan, last: LedgerJob, tried: tuple[str, ...]
    ) -> RowOutcome | None:
        """The outcome of a row whose last attempt settles it, or None to submit again."""
        line, state = plan.row.line, last.state
        finished = state is LocalState.SUCCEEDED and not last.output_path
        if state is LocalState.DOWNLOADED or finished:
            return RowOutcome(
                line=line, state=RowState.DONE, provider=last.provider, local_id=last.local_id,
                result=last.result, output=last.output_path, attempts=tried,
            )
        if state in (LocalState.FAILED, LocalState.CANCELLED, LocalState.REJECTED):
            retry = self.retry_failed or (
                state is LocalState.REJECTED and last.error_class in _FALLBACK_NAMES
            )
            if retry:
                return None
            kind = RowState.REJECTED if state is LocalState.REJECTED else RowState.FAILED
            return RowOutcome(
                line=line, state=kind, provider=last.provider, local_id=last.local_id,
                error=last.error_message, attempts=tried,
            )
        async with self._slot(last.provider, Phase.RUNNING) as slot:
            return await self._follow(
                plan, last.provider, last.local_id, tried, slot, resumed=True
            )

    async def _submit_and_follow(
        self, plan: RowPlan, provider: str, tried: tuple[str, ...]
    ) -> RowOutcome:
        row = plan.row
        async with self._slot(provider, Phase.SUBMITTING) as slot:
            if self.stopping:
                return RowOutcome(line=row.line, state=RowState.PENDING, attempts=tried[:-1])
            await self._pace[provider].wait()
            estimate = plan.estimate if provider == plan.providers[0] else None

            def submit() -> JobHandle:  # checked and sent in one trip to the pool
                info, request = self.aio.sync.prepare(provider, row.request)
                return self.jobs.submit(
                    provider, info, request, output=row.output, keep_lease=True,
                    batch=(self.batch_id, row.line), estimate=estimate,
                    valid_for=self.timeout,
                )

            try:
                handle = await self.aio._thread(submit)
            except SubmitOutcomeUnknown as exc:
                return RowOutcome(
                    line=row.line, state=RowState.UNKNOWN, provider=provider,
                    local_id=exc.details.get("local_id"), error=exc.message, attempts=tried,
                )
            except FALLBACK:
                raise
            except LipbridgeError as exc:
                return RowOutcome(
                    line=row.line, state=RowState.REJECTED, provider=provider,
                    error=exc.message, attempts=tried,
                )
            assert handle.local_id is not None
            slot.move(Phase.RUNNING)
            return await self._follow(plan, provider, handle.local_id, tried, slot, handle=handle)

    async def _follow(
        self,
        plan: RowPlan,
        provider: str,
        local_id: str,
        tried: tuple[str, ...],
        slot: _Slot,
        *,
        handle: JobHandle | None = None,
        resumed: bool = False,
    ) -> RowOutcome:
        """Wait for a submitted job (settling it first when resumed) and download it."""
        line = plan.row.line

        def outcome(state: RowState, **kw: object) -> RowOutcome:
            return RowOutcome(
                line=line, state=state, provider=provider, local_id=local_id,
                attempts=tried, **kw,  # type: ignore[arg-type]
            )

        ledger = self.jobs.ledger
        try:
            if resumed:
                await self.aio._thread(ledger.acquire, local_id)
        except JobBusy as exc:
            return outcome(RowState.BUSY, error=exc.message)
        released = False  # the lease, given up with the last write where there is one
        try:
            if resumed:
                job = await self.aio._thread(self.jobs.settle, local_id)
                if job.state is LocalState.REJECTED:
                    return outcome(RowState.REJECTED, error=job.error_message)
                handle = job.handle
                assert handle is not None
                if job.state in (LocalState.FAILED, LocalState.CANCELLED):
                    return outcome(RowState.FAILED, error=job.error_message)
                if job.result is not None and job.state is LocalState.SUCCEEDED:
                    return await self._fetch(plan, local_id, handle, job.result, outcome, slot)
            assert handle is not None
            progress = None
            if self.observe is not None:
                observe = self.observe
                progress = lambda status: observe(line, provider, status)  # noqa: E731
            keep = plan.row.output is not None  # for the download
            result = await self.aio._recorded_wait(
                local_id, handle, self.timeout, progress, release_when_done=not keep,
                request=plan.row.request,
            )
            released = not keep
            done = await self._fetch(plan, local_id, handle, result, outcome, slot)
            released = True  # by the last status, or with the download
            return done
        except JobFailed as exc:
            return outcome(RowState.FAILED, error=exc.message)
        except SubmitOutcomeUnknown as exc:  # NeedsReconciling: the user says what happened
            return outcome(RowState.UNKNOWN, error=exc.message)
        except WaitTimeout as exc:
            return outcome(RowState.WAITING, error=exc.message)
        except LipbridgeError as exc:
            return outcome(RowState.WAITING, error=exc.message)
        finally:
            if not released:
                await self.aio._thread(ledger.release, local_id)

    async def _fetch(
        self,
        plan: RowPlan,
        local_id: str,
        handle: JobHandle,
        result: JobResult,
        outcome: Callable[..., RowOutcome],
        slot: _Slot,
    ) -> RowOutcome:
        """Download the row's video, if it has an output, and then give up the job's lease
        (else the caller does)."""
        output = plan.row.output
        if output is not None:
            slot.move(Phase.DOWNLOADING)
            ledger, target = self.jobs.ledger, Path(output)

            def fetch() -> None:  # the download and the release in one trip to the pool
                try:
                    self.jobs.fetch(local_id, handle, result, target, release=True)
                finally:
                    ledger.release(local_id)  # a no-op unless the download failed

            await self.aio._thread(fetch)
        return outcome(RowState.DONE, result=result, output=output)

    def _slot(self, provider: str, phase: Phase) -> _Slot:
        return _Slot(self._total, self._slots[provider], self.tally, provider, phase)


class _Slot:
    """A place among the jobs in flight, overall and at one provider, for a job's life;
    the row is in :attr:`phase` of the tally while it holds the place."""

    __slots__ = ("_name", "_provider", "_tally", "_total", "phase")

    def __init__(
        self,
        total: asyncio.Semaphore,
        provider: asyncio.Semaphore,
        tally: Tally,
        name: str,
        phase: Phase,
    ) -> None:
        self._total, self._provider = total, provider
        self._tally, self._name, self.phase = tally, name, phase

    async def __aenter__(self) -> _Slot:
        await self._provider.acquire()
        try:
            await self._total.acquire()
        except BaseException:
            self._provider.release()
            raise
        self._tally.enter(self._name, self.phase)
        return self

    def move(self, phase: Phase) -> None:
        self._tally.move(self.phase, phase)
        self.phase = phase

    async def __aexit__(self, *exc: object) -> None:
        self._tally.leave(self._name, self.phase)
        self._total.release()
        self._provider.release()
