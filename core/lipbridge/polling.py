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
    deadline = None if timeout is None else clock.monotonic() + timeout
    schedule = policy.intervals(rng)
    delay = next(schedule)
    last: JobStatus | None = None

    def timed_out(why: str) -> WaitTimeout:
        return WaitTimeout(
            f"{handle.provider} job {handle.job_id} did not finish within {timeout:g} s"
            f"{why}; last status: {last.raw_status if last else 'none'}. The job may still "
            "finish: resume with the handle",
            handle=handle,
            last_status=last,
        )

    while True:
        if deadline is not None:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise timed_out("")
            delay = min(delay, remaining)
        clock.sleep(delay)
        try:
            status = poll(deadline)
        except ProviderError as exc:
            if not exc.retryable:
                raise
            log.warning("polling %s: %s; will retry", handle.job_id, exc)
            hint = getattr(exc, "retry_after", None)
            if hint is None:
                delay = next(schedule)
                continue
            if deadline is not None and clock.monotonic() + hint >= deadline:
                raise timed_out(
                    f" (the provider asked to retry after {hint:g} s, past the deadline)"
                ) from None
            delay = max(policy.hint_min, hint)
            continue
        last = status
        if on_progress is not None:
            on_progress(status)
        if status.state.terminal:
            return status
        delay = (
            policy.hinted(status.poll_after) if status.poll_after is not None else next(schedule)
        )
