"""Waiting for a job: the poll schedule and the deadline, apart from any provider.

Like libcloud's ``PollingConnection``, this knows nothing about wire formats: it gets a
``poll`` callable and a clock. The clock is injected, so tests never sleep.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator

from attrs import frozen

from lipbridge.context import Clock
from lipbridge.errors import ProviderError, WaitTimeout
from lipbridge.models import JobHandle, JobStatus

log = logging.getLogger("lipbridge.wait")


@frozen(kw_only=True)
class PollPolicy:
    """First poll after ``first`` s, then x``factor`` up to ``cap``, each ±``jitter``.

    A ``JobStatus.poll_after`` suggestion replaces the computed interval, clamped to
    [``hint_min``, ``hint_max``]; a ``Retry-After`` is an instruction, kept in full (at
    least ``hint_min``).
    """

    first: float = 2.0
    factor: float = 1.5
    cap: float = 15.0
    jitter: float = 0.2
    hint_min: float = 1.0
    hint_max: float = 60.0

    def intervals(self, rng: random.Random) -> Iterator[float]:
        base = self.first
        while True:
            yield base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))
            base = min(self.cap, base * self.factor)

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
        self.deadline = None if timeout is None else clock.monotonic() + timeout
        self._schedule = policy.intervals(rng)
        self._delay = next(self._schedule)
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
            self._delay = next(self._schedule)
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
        hint = status.poll_after
        self._delay = self.policy.hinted(hint) if hint is not None else next(self._schedule)
        return False


def wait_until_done(
    poll: Callable[[float | None], JobStatus],
    *,
    handle: JobHandle,
    clock: Clock,
    policy: PollPolicy,
    timeout: float | None,
    rng: random.Random,
    on_progress: Callable[[JobStatus], None] | None = None,
) -> JobStatus:
    """Poll until a terminal status and return it; raise :class:`WaitTimeout` at the deadline.

    ``poll`` gets the deadline (a ``clock.monotonic()`` time, or None) so that no request
    outlives it. Retryable provider errors (5xx, 429, an oversized answer) do not end the
    wait: the job is still running at the provider, so polling continues. A
    ``Retry-After`` is honoured in full; one that reaches past the deadline ends the wait
    at once, saying so, instead of sleeping into it.
    """
    waiter = Waiter(handle, clock=clock, policy=policy, timeout=timeout, rng=rng)
    while True:
        clock.sleep(waiter.next_sleep())
        try:
            status = poll(waiter.deadline)
        except ProviderError as exc:
            waiter.failed(exc)
            continue
        if on_progress is not None:
            on_progress(status)
        if waiter.seen(status):
            return status
