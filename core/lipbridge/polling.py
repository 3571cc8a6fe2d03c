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

    A provider hint (``JobStatus.poll_after`` or ``Retry-After``) replaces the computed
    interval, clamped to [``hint_min``, ``hint_max``].
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
    poll: Callable[[], JobStatus],
    *,
    handle: JobHandle,
    clock: Clock,
    policy: PollPolicy,
    timeout: float | None,
    rng: random.Random,
    on_progress: Callable[[JobStatus], None] | None = None,
) -> JobStatus:
    """Poll until a terminal status and return it; raise :class:`WaitTimeout` at the deadline.

    Retryable provider errors (5xx, 429) while polling do not end the wait: the job is
    still running at the provider, so polling continues, honouring ``retry_after``.
    """
    deadline = None if timeout is None else clock.monotonic() + timeout
    schedule = policy.intervals(rng)
    delay = next(schedule)
    last: JobStatus | None = None
    while True:
        if deadline is not None:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise WaitTimeout(
                    f"{handle.provider} job {handle.job_id} did not finish within {timeout:g} s; "
                    f"last status: {last.raw_status if last else 'none'}. The job may still "
                    "finish: resume with the handle",
                    handle=handle,
                    last_status=last,
                )
            delay = min(delay, remaining)
        clock.sleep(delay)
        try:
            status = poll()
        except ProviderError as exc:
            if not exc.retryable:
                raise
            log.warning("polling %s: %s; will retry", handle.job_id, exc)
            hint = getattr(exc, "retry_after", None)
            delay = policy.hinted(hint) if hint is not None else next(schedule)
            continue
        last = status
        if on_progress is not None:
            on_progress(status)
        if status.state.terminal:
            return status
        delay = (
            policy.hinted(status.poll_after) if status.poll_after is not None else next(schedule)
        )
