"""A cooperative virtual clock shared by the emulator and the client under test.

Time moves only when every thread that sleeps on it is asleep and nothing is busy: it
then jumps to the earliest wake-up. So a test can run jobs that "take" minutes, honour
``Retry-After`` and let result URLs expire without sleeping for real, and a client that
ignores ``Retry-After`` is still caught (it wakes too early in virtual time).

The threads must cooperate: work in progress is marked (:class:`Cooperative`), so time
cannot jump past it. With any other lipbridge ``Clock`` the marks do nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import itertools
import threading
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from lipbridge.context import EPOCH, Clock


@runtime_checkable
class Cooperative(Protocol):
    """How work in progress is marked on a clock that must not jump past it."""

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """Mark this thread's work in progress until the block ends."""
        ...

    def hold(self) -> object:
        """Mark work handed to another thread (a render); ``release`` the token when done."""
        ...

    def release(self, token: object) -> None: ...


class _Alone:
    """The marks for a clock nobody has to cooperate with (a real one): they do nothing."""

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def hold(self) -> object:
        return None

    def release(self, token: object) -> None:
        return None


def cooperation(clock: Clock) -> Cooperative:
    """The marks to make on ``clock``: its own when it is cooperative, else none."""
    return clock if isinstance(clock, Cooperative) else _Alone()


class CooperativeClock:
    """A lipbridge ``Clock`` whose ``sleep`` waits for virtual time, never for real time.

    ``idle`` is how long (real seconds) nothing must happen before time jumps; it only
    decides when a jump is safe, never how far time moves.
    """

    def __init__(self, start: dt.datetime = EPOCH, *, idle: float = 0.002) -> None:
        self._start = start
        self._now = 0.0
        self._idle = idle
        self._cond = threading.Condition()
        self._sleepers: list[tuple[float, int]] = []
        self._ids = itertools.count()
        self._busy: dict[object, int] = {}
        self._events = 0
        self._closed = False
        self._advancer: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"CooperativeClock(now={self.now().isoformat()})"

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        with self._cond:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (for tests that need expiry without sleepers)."""
        with self._cond:
            self._now += max(0.0, seconds)
            self._events += 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            self._busy[me] = self._busy.get(me, 0) + 1
            self._events += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy[me] -= 1
                if not self._busy[me]:
                    del self._busy[me]
                self._events += 1
                self._cond.notify_all()

    def hold(self) -> object:
        token = object()
        with self._cond:
            self._busy[token] = 1
            self._events += 1
        return token

    def release(self, token: object) -> None:
        with self._cond:
            self._busy.pop(token, None)
            self._events += 1
            self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._cond:
            if seconds <= 0:
                return
            wake = self._now + seconds
            entry = (wake, next(self._ids))
            heapq.heappush(self._sleepers, entry)
            held = self._busy.pop(me, 0)  # a sleeping thread is not busy
            self._events += 1
            self._ensure_advancer()
            self._cond.notify_all()
            while self._now < wake and not self._closed:
                self._cond.wait()
            self._sleepers.remove(entry)
            heapq.heapify(self._sleepers)
            if held:
                self._busy[me] = held
            self._events += 1

    def wait_for_sleepers(self, count: int, timeout: float = 60.0) -> None:
        """Block until ``count`` threads sleep on this clock. A test that starts sleepers
        and holds the clock (``hold``) knows every one is counted before time moves;
        ``timeout`` (real seconds) only stops a broken test from hanging."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._sleepers) >= count, timeout):
                raise TimeoutError(f"{len(self._sleepers)} of {count} threads asleep")

    def close(self) -> None:
        """Wake every sleeper and stop the advancer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _ensure_advancer(self) -> None:
        if self._advancer is None:
            self._advancer = threading.Thread(
                target=self._advance_when_idle, name="virtual-clock", daemon=True
            )
            self._advancer.start()

    def _advance_when_idle(self) -> None:
        with self._cond:
            while not self._closed:
                seen = self._events
                self._cond.wait(self._idle if self._sleepers else None)
                quiet = seen == self._events and not self._busy
                if quiet and self._sleepers and self._sleepers[0][0] > self._now:
                    self._now = self._sleepers[0][0]
                    self._events += 1
                    self._cond.notify_all()
