"""``Client.batch``: a batch for code without an event loop, run on one of its own in a
background thread, its outcomes handed over one by one."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipbridge.batch.manifest import Row
    from lipbridge.batch.runner import RowOutcome
    from lipbridge.client import Client


def run_batch(
    client: Client, rows: Sequence[Row], options: Mapping[str, Any]
) -> Iterator[RowOutcome]:
    """Each row's outcome as it finishes; leaving the loop early cancels the batch (its
    submits already sent finish and are recorded)."""
    from lipbridge.aio import AsyncClient

    results: queue.Queue[object] = queue.Queue()
    finished = object()
    running: dict[str, Any] = {}

    async def feed() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        aio = AsyncClient(client)
        try:
            async for outcome in aio.batch(rows, **options):
                results.put(outcome)
        finally:
            await aio.aclose(close_client=False)

    def run() -> None:
        try:
            asyncio.run(feed())
        except asyncio.CancelledError:
            pass  # the caller stopped reading
        except BaseException as exc:  # handed to the caller's thread
            results.put(exc)
        finally:
            results.put(finished)

    worker = threading.Thread(target=run, name="lipbridge-batch", daemon=True)
    worker.start()
    done = False
    try:
        while (item := results.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
        done = True
    finally:
        if not done and "task" in running:
            running["loop"].call_soon_threadsafe(running["task"].cancel)
        worker.join()
