"""``lipbridge batch --engine temporal``: the planned rows started on the cluster as one
batch workflow per 800 rows (fewer when rows are long), shown with the local batch's own
progress display, and written back to this ledger as they end (docs/scale.md).

The connection comes from ``LIPBRIDGE_TEMPORAL_*``. Running the same command again
watches the same batch (its workflows are named by the batch id), whether it still runs
or has ended; nothing is started twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from lipbridge.cli.app import ExitCode
from lipbridge.errors import ConfigurationError
from lipbridge_temporal.config import TemporalConfig
from lipbridge_temporal.specs import JobSpec, Outcome

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient
    from temporalio.client import WorkflowHandle

    from lipbridge.batch.manifest import Row
    from lipbridge.batch.plan import RowPlan
    from lipbridge.batch.runner import Caps, RowOutcome
    from lipbridge.client import Client

LIVENESS_ENV = "LIPBRIDGE_TEMPORAL_LIVENESS"
PART_ROWS = 800  # rows per batch workflow at most
# A batch workflow's rows, encoded, at most: below the SDK's 512 KB warning, with room for
# the outcomes a continue-as-new carries; far below the server's 2 MB limit, which refused
# 800 rows of presigned (1 to 3 KB) input URLs outright.
PART_BYTES = 400_000
WATCH_SECONDS = 0.5  # how often the batch workflows are asked how far they are


def run_batch(
    client: Client,
    rows: Sequence[Row],
    plans: Sequence[RowPlan],
    where: str,
    caps: Caps,
    opts: dict[str, Any],
) -> list[RowOutcome]:
    """Run the batch on the cluster and return each row's outcome, as the local run does."""
    from lipbridge.batch import open_batch
    from lipbridge.cli.batch import KEPT
    from lipbridge.cli.ledger import jobs_of

    refuse_unsupported(plans, opts)
    config = TemporalConfig.resolve(environ=os.environ)
    ledger = jobs_of(client).ledger
    settings = {name: opts[name] for name in KEPT}
    batch_id, resumed = open_batch(
        ledger, rows, where, settings, refuse_changed=not opts["new_batch"]
    )
    click.echo(
        f"batch {batch_id}{' (continued)' if resumed else ''}: {len(plans)} rows on Temporal "
        f"({config.address}); if this stops, the batch goes on: run the same command again "
        "to watch it",
        err=True,
    )
    if opts["submits_per_second"]:
        click.echo(
            "note: on Temporal, submits are paced by each worker's "
            "--submits-per-second, not the batch's",
            err=True,
        )
    specs = [_spec(client, plan, caps, opts) for plan in plans]
    try:
        outcomes = asyncio.run(_watch(config, client, batch_id, plans, specs, caps))
    except (asyncio.CancelledError, KeyboardInterrupt):
        click.echo(
            f"\nstopped watching; the jobs in flight go on in the cluster: run the same "
            f"command again (batch {batch_id}) to watch them and start the rows left",
            err=True,
        )
        raise SystemExit(ExitCode.INTERRUPTED) from None
    pending = sum(o.state.value == "pending" for o in outcomes)
    if pending:
        click.echo(
            f"stopped: {pending} row(s) not started; the same command again starts them",
            err=True,
        )
    return outcomes


def refuse_unsupported(plans: Sequence[RowPlan], opts: dict[str, Any]) -> None:
    """What the local batch does and this engine does not, refused before anything is
    started (never silently ignored): a fallback between a row's providers, and
    --retry-failed (running the same command again watches the same batch)."""
    if opts.get("retry_failed"):
        raise click.UsageError(
            "--retry-failed is not supported with --engine temporal (the same command "
            "again watches the same batch); allowed: --engine local, or a new batch "
            "(--new-batch) of the failed rows",
        )
    for plan in plans:
        if len(plan.providers) > 1:
            raise click.UsageError(
                f"line {plan.row.line} can run on {', '.join(plan.providers)}: "
                "--engine temporal runs each row on one provider, with no fallback; "
                "allowed: one provider per row (--provider/--providers, or the manifest's "
                "provider column), or --engine local for fallback",
            )


def _spec(client: Client, plan: RowPlan, caps: Caps, opts: dict[str, Any]) -> JobSpec:
    from lipbridge_temporal.starter import job_spec

    provider = plan.providers[0]
    declared = client.info(provider).max_concurrent_jobs
    return job_spec(
        client,
        provider,
        plan.row.request,
        output=plan.row.output,
        cap=caps.of(provider, declared),
        timeout=opts["timeout"],
        line=plan.row.line,
        liveness=liveness(),
    )


def liveness() -> float:
    """``LIPBRIDGE_TEMPORAL_LIVENESS``: seconds a worker may go without a heartbeat while
    it runs a step before another takes the step over (30 by default)."""
    text = os.environ.get(LIVENESS_ENV, "").strip() or "30"
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 1.0 <= seconds <= 3600.0:
        raise ConfigurationError(f"{LIVENESS_ENV}={text!r}; allowed: seconds from 1 to 3600")
    return seconds


def split(specs: list[JobSpec]) -> list[list[JobSpec]]:
    """The rows in order, cut into parts of at most ``PART_ROWS`` rows and ``PART_BYTES``
    encoded (a row larger on its own gets a part of its own). The same rows always give
    the same parts: the same command again finds the same workflows."""
    from temporalio.converter import DataConverter

    encode = DataConverter.default.payload_converter.to_payloads
    parts: list[list[JobSpec]] = []
    size = 0
    for spec in specs:
        row = encode([spec])[0].ByteSize()
        if not parts or len(parts[-1]) >= PART_ROWS or size + row > PART_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(spec)
        size += row
    return parts


async def _parts(
    temporal: TemporalClient, batch_id: str, specs: list[JobSpec], window: int
) -> list[WorkflowHandle[Any, list[Outcome]]]:
    """The batch's workflows, started now or (same batch id) found again and told to
    resume (start the rows a Ctrl-C left)."""
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError

    from lipbridge_temporal.starter import start_batch
    from lipbridge_temporal.workflows import BatchWorkflow

    handles = []
    for n, rows in enumerate(split(specs)):
        part = f"{batch_id}-{n + 1}"
        try:
            handle = await start_batch(temporal, part, rows, window=window)
        except WorkflowAlreadyStartedError:
            from lipbridge_temporal.names import batch_workflow_id

            handle = temporal.get_workflow_handle_for(BatchWorkflow.run, batch_workflow_id(part))
            with contextlib.suppress(RPCError):  # it ended: nothing to resume
                await handle.signal(BatchWorkflow.resume)
        handles.append(handle)
    return handles


async def _watch(
    config: TemporalConfig,
    client: Client,
    batch_id: str,
    plans: Sequence[RowPlan],
    specs: list[JobSpec],
    caps: Caps,
) -> list[RowOutcome]:
    from lipbridge.batch.runner import Phase, RowOutcome, RowState, Tally
    from lipbridge.cli.batch_progress import shown
    from lipbridge.cli.ledger import jobs_of
    from lipbridge_temporal.workflows import BatchWorkflow
    from lipbridge_temporal.writeback import record

    temporal = await config.connect()
    handles = await _parts(temporal, batch_id, specs, caps.total)
    requests = {plan.row.line: plan.row.request for plan in plans}
    ledger = jobs_of(client).ledger
    tally = Tally(len(plans))
    seen = [0] * len(handles)
    entered: dict[int, str] = {}
    outcomes: list[RowOutcome] = []
    finals = [asyncio.ensure_future(h.result()) for h in handles]
    idle = [False] * len(handles)  # stopped, nothing in flight: what is left waits
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0
    stopping: list[asyncio.Future[None]] = []
    shown_as: list[Any] = []  # the progress display, once shown: it prints above its bar

    def interrupted() -> None:
        """The first Ctrl-C: start no more rows, follow those in flight; the second:
        stop watching (the jobs in flight go on in the cluster)."""
        nonlocal presses
        presses += 1
        if presses == 1:
            stopping.extend(asyncio.ensure_future(h.signal(BatchWorkflow.stop)) for h in handles)
            text = (
                "\nstopping: no more rows started; following the jobs in flight "
                "(Ctrl-C again to stop watching; they go on)"
            )
            if shown_as:
                shown_as[0].say(text)
            else:
                click.echo(text, err=True)
        elif task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, interrupted)

    def ended(outcome: Outcome) -> RowOutcome:
        line = outcome.line or 0
        provider = entered.pop(line, None)
        if provider is not None:
            tally.leave(provider, Phase.RUNNING)
        record(ledger, requests[line], outcome, batch=(batch_id, line))
        row = row_outcome(outcome)
        tally.end(row.state)
        return row

    try:
        async with shown(batch_id, plans, tally) as progress:
            shown_as.append(progress)
            while True:
                for n, handle in enumerate(handles):
                    try:
                        now = await handle.query(BatchWorkflow.progress, seen[n])
                    except Exception:  # no worker to answer yet: ask again later
                        continue
                    for line, provider in now.in_flight.items():
                        if line not in entered and line not in {o.line for o in outcomes}:
                            entered[line] = provider
                            tally.enter(provider, Phase.RUNNING)
                    for outcome in now.ended:
                        outcomes.append(ended(outcome))
                        progress.row(outcomes[-1])
                    seen[n] += len(now.ended)
                    idle[n] = now.stopped and not now.in_flight
                if all(f.done() or idle[n] for n, f in enumerate(finals)):
                    break
                await asyncio.wait(finals, timeout=WATCH_SECONDS)
            for n, final in enumerate(finals):  # what the last query may have missed
                for outcome in final.result()[seen[n] :] if final.done() else []:
                    outcomes.append(ended(outcome))
                    progress.row(outcomes[-1])
            for line in sorted(set(requests) - {o.line for o in outcomes}):  # not started
                outcomes.append(RowOutcome(line=line, state=RowState.PENDING))
                tally.end(RowState.PENDING)
                progress.row(outcomes[-1])
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        for final in finals:
            final.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
    return sorted(outcomes, key=lambda o: o.line)


def row_outcome(outcome: Outcome) -> RowOutcome:
    """A job's end as the local batch reports a row's."""
    from lipbridge.batch.runner import RowOutcome, RowState
    from lipbridge_temporal.writeback import result_of

    return RowOutcome(
        line=outcome.line or 0,
        state=RowState(outcome.state),
        provider=outcome.provider,
        local_id=outcome.local_id,
        result=result_of(outcome),
        output=outcome.output,
        error=outcome.error,
        attempts=(outcome.provider,),
    )
