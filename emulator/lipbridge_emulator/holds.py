"""Holds: requests the emulator keeps waiting at a chosen point, so a test can kill the
client there (crash tests) and see what a provider would be left with.

A hold fault (:mod:`lipbridge_emulator.faults`: ``submit:hold-before=N``,
``submit:hold-after=N``, ``poll:hold=N``, ``cancel:hold=N``, ``download:hold=N[@BYTES]``)
keeps the Nth request of each identity waiting until either

* its client goes away (the connection is closed, as by a killed process): the request
  is then dropped as a lost connection would be. A submit held before its job was
  created creates none (the provider never accepted it); one held after was accepted and
  its answer is lost (``Accepted.answered`` is False); a poll, cancel or download is
  simply never finished; or
* the emulator is told to release it (:meth:`Holds.release`, ``POST
  /_emulator/holds/release``): it goes on as if it had never been held.

Waiting for either costs nothing: the handler thread blocks on the connection and a
wake-up socket together, and a test waits for a hold to be reached on a condition
(:meth:`Holds.wait`), never by polling.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import threading
from collections.abc import Callable
from typing import Any

from lipbridge_emulator.wire import Wakeable

UntilHangup = Callable[[Wakeable], bool]


class HoldPoint(str, enum.Enum):
    """Where a request is held."""

    SUBMIT_BEFORE = "submit-before"  # the body was read; the job is not created yet
    SUBMIT_AFTER = "submit-after"  # the job was created; its answer is not sent yet
    POLL = "poll"  # before the poll is answered
    CANCEL = "cancel"  # before the cancel is acted on
    DOWNLOAD = "download"  # the headers and the first bytes of the file were sent


class HoldEnd(str, enum.Enum):
    GONE = "gone"  # the client closed the connection: the request was dropped
    RELEASED = "released"  # the emulator let it go on


class Held:
    """One request held at a hold point. ``release`` lets it go on; ``wait_ended``
    blocks until its client went away or it was released."""

    def __init__(
        self,
        point: HoldPoint,
        *,
        identity: str,
        attempt: int,
        provider: str | None = None,
        job_id: str | None = None,
        peer: str | None = None,
    ) -> None:
        self.point = point
        self.identity = identity  # the job id, the submit body's digest or the file token
        self.attempt = attempt
        self.provider = provider
        self.job_id = job_id  # None for a submit held before its job exists, and downloads
        self.peer = peer  # the client's "host:port"
        self.end: HoldEnd | None = None
        self._lock = threading.Lock()
        self._released = False
        self._ended = threading.Event()
        self._wake, self._waker = socket.socketpair()

    def __repr__(self) -> str:
        state = self.end.value if self.end is not None else "holding"
        return f"Held({self.point.value}, {self.identity}, attempt {self.attempt}, {state})"

    def fileno(self) -> int:
        """The wake-up socket: readable once the hold is released."""
        return self._wake.fileno()

    def release(self) -> None:
        """Let the request go on (nothing if it already ended)."""
        with self._lock:
            if self._released or self._ended.is_set():
                return
            self._released = True
            self._waker.send(b"\0")

    @property
    def holding(self) -> bool:
        return not self._ended.is_set()

    def wait_ended(self, timeout: float = 60.0) -> HoldEnd:
        """Block until the hold ends; ``timeout`` (real seconds) only stops a broken test
        from hanging."""
        if not self._ended.wait(timeout):
            raise TimeoutError(f"{self!r} still holding after {timeout:g} s")
        assert self.end is not None
        return self.end

    def _finish(self, end: HoldEnd) -> None:
        with self._lock:
            self.end = end
            self._ended.set()
            for sock in (self._wake, self._waker):
                with contextlib.suppress(OSError):
                    sock.close()

    def as_dict(self) -> dict[str, Any]:
        return {
            "point": self.point.value,
            "identity": self.identity,
            "attempt": self.attempt,
            "provider": self.provider,
            "job_id": self.job_id,
            "peer": self.peer,
            "end": self.end.value if self.end is not None else None,
        }


class Holds:
    """Every request an emulator held, and the means to wait for and release them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._reached: list[Held] = []
        self._armed = True

    def hold(
        self,
        held: Held,
        until_hangup: UntilHangup,
        *,
        on_reached: Callable[[], None] | None = None,
        on_gone: Callable[[], None] | None = None,
    ) -> HoldEnd | None:
        """Keep the request waiting (on its handler thread) until its client goes away or
        it is released; how it ended, or None when holds are disarmed (not held).

        ``on_reached`` runs before anyone waiting sees the hold reached, ``on_gone``
        (what the provider is left with) before anyone sees it ended.
        """
        with self._cond:
            if not self._armed:
                return None
            if on_reached is not None:
                on_reached()
            self._reached.append(held)
            self._cond.notify_all()
        try:
            gone = until_hangup(held)
        except OSError:  # the connection broke while waiting: the client is gone
            gone = True
        if gone and on_gone is not None:
            on_gone()
        with self._cond:
            held._finish(HoldEnd.GONE if gone else HoldEnd.RELEASED)
            self._cond.notify_all()
        assert held.end is not None
        return held.end

    def wait(
        self,
        count: int = 1,
        *,
        point: HoldPoint | None = None,
        timeout: float = 60.0,
        unless: Callable[[], bool] | None = None,
    ) -> list[Held]:
        """Block until ``count`` requests (at ``point``, if given) have reached a hold since
        the emulator started, and return those requests in the order they arrived.

        ``unless`` is checked whenever a hold is reached or :meth:`poke` is called: once
        it is true, return what has been reached so far (a test pokes when its client
        exits early). ``timeout`` (real seconds) only stops a broken test from hanging:
        TimeoutError.
        """

        def reached() -> list[Held]:
            return [h for h in self._reached if point is None or h.point is point]

        with self._cond:
            done = self._cond.wait_for(
                lambda: len(reached()) >= count or (unless is not None and unless()), timeout
            )
            if not done:
                raise TimeoutError(f"{len(reached())} of {count} holds reached in {timeout:g} s")
            return reached()[:count]

    def poke(self) -> None:
        """Wake :meth:`wait` callers to check their ``unless`` again."""
        with self._cond:
            self._cond.notify_all()

    def release(self, point: HoldPoint | None = None) -> list[Held]:
        """Let every request held now (at ``point``, if given) go on; those released."""
        with self._cond:
            chosen = [h for h in self._reached if h.holding and point in (None, h.point)]
        for held in chosen:
            held.release()
        return chosen

    def disarm(self) -> None:
        """Hold no request from now on; those held now stay held until released or gone."""
        with self._cond:
            self._armed = False

    def reached(self) -> list[Held]:
        """Every request held so far, in the order they arrived."""
        with self._cond:
            return list(self._reached)

    def holding(self) -> list[Held]:
        """The requests held now."""
        with self._cond:
            return [h for h in self._reached if h.holding]

    def close(self) -> None:
        """Disarm and release everything (the emulator is closing)."""
        self.disarm()
        self.release()
