"""AsyncClient: :class:`~lipbridge.client.Client` for asyncio applications.

The same plugins, ledger and error hierarchy. HTTP calls and ledger writes run in a
bounded pool of threads; waiting between polls is an ``await`` on the event loop, so
10,000 jobs in flight need 10,000 coroutines, not 10,000 threads.

A call whose task is cancelled is not abandoned half-way: the submit (or download) goes
on in its thread to the end and records itself in the ledger, so a paid submit is never
left unrecorded; only the awaiting task stops waiting for it.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lipbridge.client import Client, result_of
from lipbridge.errors import JobFailed, LipbridgeError, ProviderError
from lipbridge.models import CostEstimate, JobHandle, JobRequest, JobResult, JobStatus
from lipbridge.polling import Heard, slices
from lipbridge.urls import check_output_path, check_timeout

if TYPE_CHECKING:
    from lipbridge.batch.manifest import Row
    from lipbridge.batch.runner import Caps, Observer, RowOutcome

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Progress = Callable[[JobStatus], None]


def _consume(future: asyncio.Future[Any]) -> None:
    """A shielded call whose caller went away: its error was recorded, not lost silently."""
    if not future.cancelled():
        future.exception()


class AsyncClient:
    """Submit, wait for, run and download jobs from asyncio code.

    ``client`` is the :class:`Client` it drives (built from ``client_args`` when not
    given); ``max_threads`` bounds the HTTP calls in flight at once; ``sleep`` is how it
    waits between polls (``asyncio.sleep``; tests pass a fake one with a fake clock).
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        max_threads: int = 32,
        sleep: Sleep | None = None,
        **client_args: Any,
    ) -> None:
        self.sync = client if client is not None else Client(**client_args)
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="lipbridge")
        self._sleep: Sleep = sleep or asyncio.sleep

    def __repr__(self) -> str:
        return f"AsyncClient({self.sync!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self, *, close_client: bool = True) -> None:
        """Wait for calls still running in threads (a submit finishing), then close (the
        wrapped client too, unless ``close_client`` is false)."""
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)
        if close_client:
            self.sync.close()

    async def _thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        future.add_done_callback(_consume)
        return await asyncio.shield(future)

    # -- the calls of Client, awaited ---------------------------------------------------------

    async def submit(
        self, provider: str, request: JobRequest, *, drop_unsupported: bool = False
    ) -> JobHandle:
        return await self._thread(
            self.sync.submit, provider, request, drop_unsupported=drop_unsupported
        )

    async def poll(self, handle: JobHandle) -> JobStatus:
        return await self._thread(self.sync.poll, handle)

    async def cancel(self, handle: JobHandle) -> JobStatus:
        return await self._thread(self.sync.cancel, handle)

    async def download(self, result: JobResult | str, path: str | os.PathLike[str]) -> Path:
        return await self._thread(self.sync.download, result, path)

    async def estimate_cost(
        self, provider: str, request: JobRequest, **kwargs: Any
    ) -> CostEstimate:
        return await self._thread(self.sync.estimate_cost, provider, request, **kwargs)

    # -- waiting ------------------------------------------------------------------------------

    async def wait(
        self,
        handle: JobHandle,
        *,
        timeout: float | None = 1800.0,
        on_progress: Progress | None = None,
    ) -> JobResult:
        """Poll until the job ends, recording what each poll sees when the ledger has it."""
        if timeout is not None:
            timeout = check_timeout(timeout, "timeout")
        jobs = self.sync.jobs
        local_id = await self._thread(jobs.ledger.locate, handle) if jobs else None
        if jobs is None or local_id is None:
            status = await self._poll_until_done(handle, timeout, on_progress)
            return result_of(handle, status)
        await self._thread(jobs.ledger.acquire, local_id)
        try:
            return await self._recorded_wait(local_id, handle, timeout, on_progress)
        finally:
            await self._thread(jobs.ledger.release, local_id)

    async def _recorded_wait(
        self,
        local_id: str,
        handle: JobHandle,
        timeout: float | None,
        on_progress: Progress | None,
        *,
        release_when_done: bool = False,
        request: JobRequest | None = None,
    ) -> JobResult:
        """Wait, recording each status; ``release_when_done`` gives up the job's lease with
        the write of its last status (nothing is left to do with it). A caller that has
        the job's ``request`` spares a job without a callback URL a ledger read."""
        jobs = self.sync.jobs
        assert jobs is not None
        previous: list[JobStatus] = []

        def observe(status: JobStatus) -> None:  # in the poll's thread: it writes the ledger
            release = release_when_done and status.state.terminal
            jobs.ledger.observed(
                local_id, status, previous[-1] if previous else None, release=release
            )
            previous[:] = [status]

        try:
            heard = (
                None
                if request is not None and request.callback_url is None
                else await self._thread(jobs.listener, local_id)
            )
            status = await self._poll_until_done(handle, timeout, on_progress, observe, heard)
            return result_of(handle, status)
        except JobFailed:
            raise  # its status was recorded
        except LipbridgeError as exc:
            await self._thread(jobs.ledger.step_failed, local_id, exc)
            raise

    async def _poll_until_done(
        self,
        handle: JobHandle,
        timeout: float | None,
        on_progress: Progress | None,
        record: Callable[[JobStatus], None] | None = None,
        heard: Heard | None = None,
    ) -> JobStatus:
        """Poll until the job ends. ``record`` sees each status in the poll's own thread
        (one trip to the pool per poll, not two), before the next poll is sent; ``heard``
        is asked between polls whether a callback came (see ``wait_until_done``)."""
        waiter = self.sync.waiter(handle, timeout, callbacks=heard is not None)

        def poll() -> JobStatus:
            status = self.sync.poll(handle, deadline=waiter.deadline)
            if record is not None:
                record(status)
            return status

        while True:
            news: JobStatus | bool = False
            for step in slices(waiter.next_sleep(), heard):
                await self._sleep(step)
                if heard is not None and (news := await self._thread(heard)) is not False:
                    break
            try:
                if isinstance(news, JobStatus):  # a signed callback said it: no poll
                    if record is not None:
                        await self._thread(record, news)
                    status = news
                else:
                    status = await self._thread(poll)
            except ProviderError as exc:
                waiter.failed(exc)
                continue
            if on_progress is not None:
                on_progress(status)
            if waiter.seen(status):
                return status

    # -- one call for the whole job -----------------------------------------------------------

    async def run(
        self,
        provider: str,
        request: JobRequest,
        output: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = 1800.0,
        on_progress: Progress | None = None,
        on_submitted: Callable[[JobHandle], None] | None = None,
        drop_unsupported: bool = False,
    ) -> JobResult:
        """Submit, wait and download, recorded at every step (see ``Client.run``)."""
        if timeout is not None:
            timeout = check_timeout(timeout, "timeout")
        target = check_output_path(output) if output is not None else None
        jobs = self.sync._require_jobs()
        info, request = await self._thread(
            self.sync.prepare, provider, request, drop_unsupported=drop_unsupported
        )
        handle = await self._thread(
            jobs.submit, provider, info, request,
            output=str(target) if target else None, keep_lease=True,
        )
        local_id = handle.local_id
        assert local_id is not None
        try:
            if on_submitted is not None:
                on_submitted(handle)
            result = await self._recorded_wait(
                local_id, handle, timeout, on_progress, request=request
            )
            if target is not None:
                await self._thread(jobs.fetch, local_id, handle, result, target)
            return result
        finally:
            await self._thread(jobs.ledger.release, local_id)

    # -- batches ------------------------------------------------------------------------------

    async def batch(
        self,
        rows: Sequence[Row],
        *,
        caps: Caps | None = None,
        max_cost: Decimal | None = None,
        allow_unknown_cost: bool = False,
        retry_failed: bool = False,
        timeout: float | None = 1800.0,
        source: str = "python",
        observe: Observer | None = None,
    ) -> AsyncIterator[RowOutcome]:
        """Run ``rows`` as one batch, yielding each row's outcome as it finishes.

        Every row is checked and priced first, and nothing is sent if one is invalid, if
        the known total in USD is over ``max_cost``, or if a price is unknown and
        ``allow_unknown_cost`` is false. Running the same rows again continues the batch
        (docs/batch.md).
        """
        from lipbridge.batch import open_batch
        from lipbridge.batch.manifest import ManifestError
        from lipbridge.batch.plan import check_budget, plan_rows, totals
        from lipbridge.batch.runner import BatchRun
        from lipbridge.batch.runner import Caps as Caps_

        plans, problems = await self._thread(plan_rows, self.sync, rows)
        if problems:
            raise ManifestError(source, problems)
        check_budget(totals(plans), max_usd=max_cost, allow_unknown=allow_unknown_cost)
        jobs = self.sync._require_jobs()
        settings = {"retry_failed": retry_failed, "timeout": timeout}
        batch_id, _ = await self._thread(open_batch, jobs.ledger, rows, source, settings)
        run = BatchRun(
            self, batch_id, plans, caps or Caps_(), timeout=timeout,
            retry_failed=retry_failed, observe=observe,
        )
        async for outcome in run.outcomes():
            yield outcome
