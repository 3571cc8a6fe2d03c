"""The emulator's own record of what the client did, for tests to check it against.

Every request's arrival (with the fault it met and the answer it got), every accepted
submit, and every callback attempt. Times are the emulator clock's monotonic seconds.
"""

from __future__ import annotations

import threading
from collections import Counter

import attrs
from attrs import define, field, frozen


@define(kw_only=True)
class Arrival:
    at: float
    method: str
    path: str
    provider: str | None = None
    endpoint: str | None = None  # submit, poll, cancel, download, upload, control
    identity: str | None = None  # job id, submit body digest or file token
    status: int | None = None  # None: the connection was reset
    fault: str | None = None  # 5xx, reset-before, reset-after, 429, slow, hold
    retry_after: int | None = None
    peer: str | None = None  # the client's "host:port": which connection (and process) sent it


@frozen(kw_only=True)
class Accepted:
    at: float
    provider: str
    job_id: str
    fingerprint: str  # sha256 of the body, first 16 hex chars (as lipbridge's http layer)
    answered: bool  # False when the reply was lost to a fault (5xx after accept, reset)


@frozen(kw_only=True)
class CallbackAttempt:
    at: float
    provider: str
    job_id: str
    url: str
    attempt: int
    status: int | None  # None: refused host, timeout or connection error
    error: str | None = None


@define
class Ledger:
    arrivals: list[Arrival] = field(factory=list)
    accepted: list[Accepted] = field(factory=list)
    callbacks: list[CallbackAttempt] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock, repr=False)

    def arrive(self, arrival: Arrival) -> Arrival:
        with self._lock:
            self.arrivals.append(arrival)
        return arrival

    def accept(self, accepted: Accepted) -> None:
        with self._lock:
            self.accepted.append(accepted)

    def mark_unanswered(self, job_id: str) -> None:
        with self._lock:
            self.accepted = [
                attrs.evolve(e, answered=False) if e.job_id == job_id else e
                for e in self.accepted
            ]

    def callback(self, attempt: CallbackAttempt) -> None:
        with self._lock:
            self.callbacks.append(attempt)

    def snapshot(self) -> tuple[list[Arrival], list[Accepted], list[CallbackAttempt]]:
        with self._lock:
            return list(self.arrivals), list(self.accepted), list(self.callbacks)

    def duplicate_submits(self) -> dict[str, int]:
        """Submit bodies accepted more than once (a client that resubmitted)."""
        counts = Counter(entry.fingerprint for entry in self.snapshot()[1])
        return {digest: n for digest, n in counts.items() if n > 1}

    def retry_after_violations(self, tolerance: float = 0.0) -> list[tuple[Arrival, Arrival]]:
        """Pairs (429 answer, the same client's next request that came too early).

        The "same client" is the same endpoint and identity: the job for polls, the body
        digest for submits.
        """
        arrivals = self.snapshot()[0]
        problems = []
        for i, limited in enumerate(arrivals):
            if limited.status != 429 or limited.retry_after is None:
                continue
            for later in arrivals[i + 1 :]:
                if (later.endpoint, later.identity) == (limited.endpoint, limited.identity):
                    if later.at + tolerance < limited.at + limited.retry_after:
                        problems.append((limited, later))
                    break
        return problems
