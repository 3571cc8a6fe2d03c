"""Jobs: what was accepted, and how each stands at a given moment of the clock.

A job's state is a pure function of the clock (queued for the first fifth of its
duration, then running, then done), so thousands of jobs cost no threads.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path
from typing import Any

from attrs import define, frozen

from lipbridge.context import Clock
from lipbridge_emulator.dialect import Dialect, Failure, JobSpec, JobView, State
from lipbridge_emulator.store import FileStore

QUEUED_SHARE = 0.2  # of a job's duration spent queued


@frozen(kw_only=True)
class Timing:
    """How long jobs take. ``job_seconds`` None: 10 s plus 3 s per output second, the
    order of magnitude providers show; ``speed`` divides every emulated duration."""

    job_seconds: float | None = None
    speed: float = 1.0
    results_lag: float = 1.0  # "completed" before results, where the dialect has that race

    def duration(self, output: float) -> float:
        base = self.job_seconds if self.job_seconds is not None else 10.0 + 3.0 * output
        return base / self.speed


@define(kw_only=True)
class Job:
    id: str
    token: str  # the output's file token
    dialect: Dialect
    spec: JobSpec
    created: float
    created_at: dt.datetime
    done: float
    results: float
    output_seconds: float | None
    charge: Decimal
    failure: Failure | None
    render: Future[Path] | None


class Jobs:
    def __init__(
        self,
        clock: Clock,
        store: FileStore,
        file_url: Callable[[str, str], str],
        url_lifetime: float | None,
    ) -> None:
        self._clock = clock
        self._store = store
        self._file_url = file_url
        self._url_lifetime = url_lifetime
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[(job.dialect.provider, job.id)] = job

    def find(self, provider: str, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get((provider, job_id))

    def views(self, provider: str | None = None) -> list[JobView]:
        with self._lock:
            jobs = [j for (p, _), j in self._jobs.items() if provider in (None, p)]
        return [self.view(job) for job in jobs]

    def view(self, job: Job) -> JobView:
        """The job as it stands now; the first look at a finished one publishes its output."""
        now = self._clock.monotonic()
        elapsed = now - job.created
        duration = max(job.done - job.created, 1e-9)
        common: dict[str, Any] = {
            "id": job.id,
            "spec": job.spec,
            "created": job.created_at,
            "charge": job.charge,
            "output_seconds": job.output_seconds,
        }
        if now < job.created + QUEUED_SHARE * duration:
            return JobView(state=State.QUEUED, progress=0, **common)
        if now < job.done:
            progress = min(99, max(1, int(100 * elapsed / duration)))
            return JobView(state=State.RUNNING, progress=progress, **common)
        completed = job.created_at + dt.timedelta(seconds=duration)
        failure = job.failure
        render = job.render
        if failure is None and render is not None and render.done():
            error = render.exception()
            if error is not None:
                failure = Failure(code="bad_media", message=f"rendering failed: {error}")
        if failure is not None:
            return JobView(state=State.FAILED, progress=100, completed=completed,
                           failure=failure, **common)
        ready = render is not None and render.done() and now >= job.results
        if not ready and not job.dialect.status_before_results:
            return JobView(state=State.RUNNING, progress=99, **common)
        if not ready:
            return JobView(state=State.SUCCEEDED, progress=99, completed=completed, **common)
        assert render is not None
        if self._store.get(job.token) is None:  # first look at a finished job: publish it
            expires = self._expiry(job)
            self._store.add_path(render.result(), f"{job.id}.mp4", expires, token=job.token)
        return JobView(
            state=State.SUCCEEDED,
            progress=100,
            completed=completed,
            output_url=self._file_url(job.token, f"{job.id}.mp4"),
            expires=self._expiry(job),
            **common,
        )

    def _expiry(self, job: Job) -> dt.datetime:
        lifetime = (
            dt.timedelta(seconds=self._url_lifetime)
            if self._url_lifetime is not None
            else job.dialect.url_lifetime
        )
        return job.created_at + dt.timedelta(seconds=job.results - job.created) + lifetime
