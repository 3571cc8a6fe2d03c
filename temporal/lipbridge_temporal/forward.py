"""Callbacks as signals: ``lipbridge callbacks serve --signal temporal`` hands each
verified callback to the job's workflow, which polls at once instead of at its
fallback's pace (docs/scale.md). The Temporal connection comes from the
``LIPBRIDGE_TEMPORAL_*`` variables of the receiver's environment."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from lipbridge.errors import ConfigurationError
from lipbridge_temporal.config import TemporalConfig
from lipbridge_temporal.names import callback_workflow_id, job_workflow_id
from lipbridge_temporal.specs import Callback

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient

    from lipbridge.callbacks import CallbackUpdate
    from lipbridge.client import Client

T = TypeVar("T")
SIGNAL_SECONDS = 30.0  # a signal the cluster does not take by then fails the callback (500)
# A callback may come before its job's relay is up (right after the submit was answered):
# it is held this long, the relay looked for again every RELAY_RETRY_SECONDS.
RELAY_PATIENCE = 5.0
RELAY_RETRY_SECONDS = 0.2
Forward = Callable[[str, "CallbackUpdate"], str]


class _Loop:
    """An event loop on a thread of its own: the receiver's handlers are synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(
            target=self.loop.run_forever, name="lipbridge-temporal", daemon=True
        ).start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(SIGNAL_SECONDS)


def forwarder(client: Client) -> Forward:
    """A function signalling each callback to its job's workflow; says what it did."""
    from temporalio.service import RPCError, RPCStatusCode

    config = TemporalConfig.resolve(environ=os.environ)
    loop = _Loop()
    temporal: TemporalClient = loop.run(config.connect())

    async def signal(workflow_id: str, news: Callback, patience: float = 0.0) -> bool:
        """Signal ``workflow_id``; while it does not exist, try again for ``patience`` s."""
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            try:
                await temporal.get_workflow_handle(workflow_id).signal("callback", news)
                return True
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise ConfigurationError(
                        f"Temporal refused the signal: {exc.message}"
                    ) from None
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(RELAY_RETRY_SECONDS)

    def forward(provider: str, update: CallbackUpdate) -> str:
        news = Callback(
            raw_status=update.status.raw_status,
            verified=update.verified,
            terminal=update.status.state.terminal,
        )
        said = f"{provider} job {update.job_id} ({news.raw_status})"
        relay = callback_workflow_id(provider, update.job_id)
        if loop.run(signal(relay, news, RELAY_PATIENCE)):
            return f"{said}: signalled its workflow"
        jobs = client.jobs  # the relay is not up yet: this receiver's ledger may know it
        job = jobs.ledger.find(provider, update.job_id) if jobs is not None else None
        if job is not None and loop.run(signal(job_workflow_id(job.local_id), news)):
            return f"{said}: signalled workflow {job_workflow_id(job.local_id)}"
        return f"{said}: no running workflow has it; ignored (its polls will see the end)"

    return forward
