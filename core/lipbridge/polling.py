"""Waiting for a job: the poll schedule and the deadline, apart from any provider.

Like libcloud's ``PollingConnection``, this knows nothing about wire formats: it gets a
``poll`` callable and a clock. The clock is injected, so tests never sleep.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator

import attrs
from attrs import frozen

from lipbridge.context import Clock
from lipbridge.errors import ProviderError, WaitTimeout
from lipbridge.hints import progress_eta
from lipbridge.models import JobHandle, JobStatus

log = logging.getLogger("lipbridge.wait")

# How often a wait looks in the job ledger for a callback while it sleeps between polls.
HEAR_EVERY = 2.0
# What a wait hears between polls: a status a signed callback gave (no poll needed), True
# (an unsigned callback, or news without a result: poll now), or False (nothing).
Heard = Callable[[], JobStatus | bool]


def slices(delay: float, heard: Heard | None) -> Iterator[float]:
    """``delay`` whole, or, when callbacks are listened for, cut into ``HEAR_EVERY`` parts."""
    if heard is None:
        yield delay
        return
    while delay > HEAR_EVERY:
        yield HEAR_EVERY
        delay -= HEAR_EVERY
    yield delay


@frozen(kw_only=True)
class PollPolicy:
    """When to poll a job: ``first`` s after the submit, then every ``first`` plus
    ``factor - 1`` times the time waited so far, at most ``cap``, each ±``jitter``.

    With nothing else intervening that is x``factor`` per poll (the defaults: 1.5, 3.4,
    5.7, 8.6, 12.3, 16.9 s after the submit, ..., then every 25 s once the wait passes
    94 s): a job is seen done at most about ``factor - 1`` of its run time plus ``first``
    late, or ``cap`` for long jobs. Counting from the time waited rather than from the
    number of polls, the interval after a long ``Retry-After`` or hint fits the job's age
    instead of starting over.

    A ``JobStatus.poll_after`` suggestion replaces the computed interval, clamped to
    [``hint_min``, ``hint_max``]; a ``Retry-After`` is an instruction, kept in full (at
    least ``hint_min``). Without either, and with ``progress`` on, a poll comes sooner
    than scheduled when the job's progress rate says it reaches 100 % sooner
    (:func:`lipbridge.hints.progress_eta`): never later, never sooner than ``hint_min``,
    and no more often than the schedule set a poll, so estimates that keep missing cost
    at most twice the schedule's polls.
    """

    first: float = 1.5
    factor: float = 1.25
    cap: float = 25.0
    jitter: float = 0.2
    hint_min: float = 1.0
    hint_max: float = 60.0
    progress: bool = True

    def for_callbacks(self) -> PollPolicy:
        """The pace for a job whose provider will call back: polls are only the fallback
        for a callback that never comes, so they start later and stay sparser."""
        return attrs.evolve(
            self, first=max(self.first, 15.0), factor=max(self.factor, 1.5),
            cap=max(self.cap, 120.0), progress=False,
        )

    def interval(self, waited: float, rng: random.Random) -> float:
        """The next interval for a job waited on for ``waited`` seconds, jittered."""
        base = min(self.cap, self.first + (self.factor - 1.0) * max(0.0, waited))
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))

    def intervals(self, rng: random.Random) -> Iterator[float]:
        """The intervals one after the other, when nothing else intervenes."""
        waited = 0.0
        while True:
            delay = self.interval(waited, rng)
            yield delay
            waited += delay

    def hinted(self, seconds: float) -> float:
        return min(self.hint_max, max(self.hint_min, seconds))


class Waiter:
    """One wait's schedule, deadline and last status, apart from how it sleeps and polls:
    the blocking loop below and :class:`lipbridge.aio.AsyncClient` share it.

    A loop sleeps :meth:`next_sleep`, polls with :attr:`deadline`, and hands the outcome
    to :meth:`failed` or :meth:`seen` until :meth:`seen` says the job ended.
    """

    def __init__(
        self,
        handle: JobHandle,
        *,
        clock: Clock,
        policy: PollPolicy,
        timeout: float | None,
        rng: random.Random,
    ) -> None:
        self.handle = handle
        self.clock = clock
        self.policy = policy
        self.timeout = timeout
        self._rng = rng
        self._started = clock.monotonic()
        self.deadline = None if timeout is None else self._started + timeout
        self._delay = policy.interval(0.0, rng)
        self._readings: list[tuple[float, float]] = []  # (monotonic time, percent above 0)
        self._planned = 1  # polls the schedule set (the first one too) ...
        self._forward = 0  # ... and polls brought forward by progress, never more of these
        self.last: JobStatus | None = None

    def timed_out(self, why: str = "") -> WaitTimeout:
        last = self.last
        return WaitTimeout(
            f"{self.handle.provider} job {self.handle.job_id} did not finish within "
            f"{self.timeout:g} s{why}; last status: {last.raw_status if last else 'none'}. "
            "The job may still finish: resume with the handle",
            handle=self.handle,
            last_status=last,
        )

    def next_sleep(self) -> float:
        """Seconds to sleep before the next poll; raises WaitTimeout at the deadline."""
        if self.deadline is None:
            return self._delay
        remaining = self.deadline - self.clock.monotonic()
        if remaining <= 0:
            raise self.timed_out()
        return min(self._delay, remaining)

    def failed(self, exc: ProviderError) -> None:
        """A poll failed: retryable errors keep the wait going (honouring Retry-After)."""
        if not exc.retryable:
            raise exc
        log.warning("polling %s: %s; will retry", self.handle.job_id, exc)
        hint = getattr(exc, "retry_after", None)
        if hint is None:
            self._delay, self._planned = self._interval(self.clock.monotonic()), self._planned + 1
            return
        if self.deadline is not None and self.clock.monotonic() + hint >= self.deadline:
            raise self.timed_out(
                f" (the provider asked to retry after {hint:g} s, past the deadline)"
            ) from None
        self._delay = max(self.policy.hint_min, hint)

    def seen(self, status: JobStatus) -> bool:
        """A poll answered: True when the job ended; else the next delay is set."""
        self.last = status
        if status.state.terminal:
            return True
        now = self.clock.monotonic()
        eta = self._progress_eta(now, status.progress)
        if status.poll_after is not None:
            self._delay = self.policy.hinted(status.poll_after)
            return False
        interval = self._interval(now)
        # Progress may bring a poll forward, never more often than the schedule set one:
        # estimates that keep missing (progress that slows down) cost at most twice the
        # schedule's polls.
        if eta is not None and self._forward < self._planned:
            sooner = max(self.policy.hint_min, eta)
            if sooner < interval:
                self._delay, self._forward = sooner, self._forward + 1
                return False
        self._delay, self._planned = interval, self._planned + 1
        return False

    def _interval(self, now: float) -> float:
        return self.policy.interval(now - self._started, self._rng)

    def _progress_eta(self, now: float, progress: float | None) -> float | None:
        """Seconds to 100 % at the rate over (about) the later half of the wait so far.

        The rate is taken from the last reading at or before half the time waited, so
        it spans long enough for whole-percent steps not to matter, yet follows a job
        that slows down. A reading of 0 %, or one lower than the last, starts afresh.
        """
        if progress is None or not self.policy.progress:
            return None
        readings = self._readings
        if progress <= 0 or (readings and progress < readings[-1][1]):
            readings.clear()
        if progress <= 0:
            return None
        readings.append((now, progress))
        half = now - (now - self._started) / 2
        while len(readings) > 2 and readings[1][0] <= half:
            del readings[0]
        return progress_eta(readings[0], readings[-1]) if len(readings) > 1 else None


def wait_until_done(
    poll: Callable[[float | None], JobStatus],
    *,
    handle: JobHandle,
    clock: Clock,
    policy: PollPolicy,
    timeout: float | None,
    rng: random.Random,
    on_progress: Callable[[JobStatus], None] | None = None,
    heard: Heard | None = None,
) -> JobStatus:
    """Poll until a terminal status and return it; raise :class:`WaitTimeout` at the deadline.

    ``poll`` gets the deadline (a ``clock.monotonic()`` time, or None) so that no request
    outlives it. Retryable provider errors (5xx, 429, an oversized answer) do not end the
    wait: the job is still running at the provider, so polling continues. A
    ``Retry-After`` is honoured in full; one that reaches past the deadline ends the wait
    at once, saying so, instead of sleeping into it. ``heard``, for a job whose provider
    calls back, is asked every ``HEAR_EVERY`` seconds of a sleep whether a callback came.
    """
    waiter = Waiter(handle, clock=clock, policy=policy, timeout=timeout, rng=rng)
    while True:
        news: JobStatus | bool = False
        for step in slices(waiter.next_sleep(), heard):
            clock.sleep(step)
            if heard is not None and (news := heard()) is not False:
                break
        if isinstance(news, JobStatus):
            status = news  # a signed callback said it: no poll
        else:
            try:
                status = poll(waiter.deadline)
            except ProviderError as exc:
                waiter.failed(exc)
                continue
        if on_progress is not None:
            on_progress(status)
        if waiter.seen(status):
            return status
