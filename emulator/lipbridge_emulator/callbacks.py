"""Delivering providers' completion callbacks, with their documented timeout and retries.

The emulator can only call back to this machine: a callback URL on any other host is
refused and the refusal is written to the ledger, so a test never reaches the internet.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3

from lipbridge.context import Clock
from lipbridge.models import is_loopback
from lipbridge_emulator.clock import cooperation
from lipbridge_emulator.dialect import CallbackPolicy
from lipbridge_emulator.ledger import CallbackAttempt, Ledger

MAX_NAP = 0.5  # seconds of emulator time between checks, so a newer, earlier job is not late
# A callback's bytes and extra headers, from its body and the moment it is sent.
Encode = Callable[[Any, dt.datetime], tuple[bytes, Mapping[str, str]]]


class CallbackSender:
    def __init__(self, clock: Clock, ledger: Ledger) -> None:
        self._clock = clock
        self._marks = cooperation(clock)
        self._ledger = ledger
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        self._http = urllib3.PoolManager(retries=False)
        self._running = False  # a thread is running _run

    def schedule(
        self,
        at: float,
        provider: str,
        job_id: str,
        url: str,
        policy: CallbackPolicy,
        body: Callable[[], Any],
        encode: Encode,
    ) -> None:
        """Deliver ``body()`` to ``url`` at ``at``; ``encode`` makes each attempt's bytes
        and extra headers (the dialect's ``callback_request``: a signature, say)."""

        def deliver() -> None:
            self._deliver(provider, job_id, url, policy, body, encode)

        with self._lock:
            heapq.heappush(self._due, (at, next(self._ids), deliver))
            if not self._running:
                self._running = True
                self._start(self._run, "emulator-callbacks")

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._http.clear()

    def _start(self, work: Callable[[], None], name: str) -> None:
        """Run ``work`` on a new thread that a virtual clock counts as busy from now on:
        until it sleeps on the clock or ends, time cannot move past what it is doing."""
        token = self._marks.hold()

        def run() -> None:
            with self._marks.busy():
                self._marks.release(token)
                work()

        threading.Thread(target=run, name=name, daemon=True).start()

    def _run(self) -> None:
        """Start each callback when it is due; end when none is left (schedule restarts)."""
        while True:
            with self._lock:
                if self._closed or not self._due:
                    self._running = False
                    return
                at = self._due[0][0]
                now = self._clock.monotonic()
                ready = at <= now
                if ready:
                    _, _, deliver = heapq.heappop(self._due)
            if ready:
                self._start(deliver, "emulator-callback")
            else:
                self._clock.sleep(min(at - now, MAX_NAP))

    def _deliver(
        self,
        provider: str,
        job_id: str,
        url: str,
        policy: CallbackPolicy,
        body: Callable[[], Any],
        encode: Encode,
    ) -> None:
        def log(attempt: int, status: int | None, error: str | None = None) -> None:
            self._ledger.callback(
                CallbackAttempt(
                    at=self._clock.monotonic(),
                    provider=provider,
                    job_id=job_id,
                    url=url,
                    attempt=attempt,
                    status=status,
                    error=error,
                )
            )

        if not is_loopback(urlsplit(url).hostname):
            log(1, None, "refused: the emulator calls back only to 127.0.0.1/localhost")
            return
        value = body()
        for attempt, delay in enumerate((0.0, *policy.retry_delays), start=1):
            if delay:
                self._clock.sleep(delay)
            if self._closed:
                return
            payload, headers = encode(value, self._clock.now())
            try:
                with self._marks.busy():
                    response = self._http.request(
                        "POST",
                        url,
                        body=payload,
                        headers={"Content-Type": "application/json", **headers},
                        timeout=urllib3.Timeout(total=policy.timeout),
                        redirect=False,
                    )
            except urllib3.exceptions.HTTPError as exc:
                log(attempt, None, type(exc).__name__)
                continue
            log(attempt, response.status)
            if 200 <= response.status < 300:
                return
