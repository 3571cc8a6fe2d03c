"""When to poll a job next, from what a poll answer says: the ``JobStatus.poll_after`` hint.

:func:`poll_hint` is for plugins: it reads what a provider may send with a status (a
``Retry-After`` on a 2xx answer, a documented ETA) and gives the seconds to wait, or
None. :func:`progress_eta` is the core's: the wait loop (:class:`lipbridge.polling.Waiter`)
estimates when a job reaches 100 % from the progress it saw at successive polls, so a
plugin that reports ``progress`` needs nothing more. Neither imports the HTTP stack.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lipbridge.wire import number

if TYPE_CHECKING:
    from lipbridge.calls import Response
    from lipbridge.context import Clock


def poll_hint(response: Response, clock: Clock, *, eta: object = None) -> float | None:
    """Seconds to wait before polling again, from one poll answer; None: no hint.

    A ``Retry-After`` on a 2xx answer (a ``202 Accepted`` that says when to come back,
    in seconds or as an HTTP date) comes first: it is the provider's word on polling.
    Otherwise ``eta``, the seconds the provider says the job still needs, as read from
    its JSON (anything but a finite number above 0 is no hint: a passed ETA says nothing
    about when to look next). An error answer's ``Retry-After`` is not read here:
    ``ctx.read`` raises it with the error. The core clamps the hint to
    ``PollPolicy.hint_min..hint_max``.
    """
    if response.ok:
        value = response.header("retry-after")
        if value is not None:
            from lipbridge.http import retry_after_seconds  # the HTTP stack: a poll loaded it

            after = retry_after_seconds(value, clock)
            if after is not None:
                return after
    seconds = number(eta)
    return seconds if seconds else None


def progress_eta(
    earlier: tuple[float, float], later: tuple[float, float]
) -> float | None:
    """Seconds until 100 % at the rate between two ``(monotonic time, percent)`` readings
    of one job; None when they give no rate.

    The earlier reading must be above 0 % (at 0 the job may not have started, so the
    time between says nothing about its speed), the later one higher and below 100 %,
    and time must have passed between them.
    """
    (t0, p0), (t1, p1) = earlier, later
    if not (0 < p0 < p1 < 100 and t1 > t0):
        return None
    remaining = (100.0 - p1) * (t1 - t0) / (p1 - p0)
    return remaining if math.isfinite(remaining) else None
