"""``lipbridge batch``'s progress on stderr: on a terminal, one live overall bar (rows per
phase and outcome, per provider, the ETA, the estimated and billed cost so far), with the
rows that did not end done printed above it; when piped, one plain line per row as it
ends, whose format scripts and tests read.

Imported only when a batch runs: it imports rich.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal

import attrs
import click
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from lipbridge.batch.plan import ProviderTotal, RowPlan, totals
from lipbridge.batch.runner import Phase, RowOutcome, RowState, Tally
from lipbridge.cli.render import amount, dollars
from lipbridge.models import JobStatus

# The bar is redrawn this often, whatever the pace of rows: 10,000 rows ending within a
# second cost 4 redraws, not 10,000.
REDRAW_SECONDS = 0.25
# Outcomes that need no line above the bar: what was asked, or what Ctrl-C left to resume.
_QUIET = (RowState.DONE, RowState.PENDING)


def describe(outcome: RowOutcome) -> str:
    """A row's end: "line 5 done (foxapi ID) -> out/5.mp4", or with its error."""
    row = f"line {outcome.line} {outcome.state.value}"
    if outcome.provider:
        row += f" ({outcome.provider} {outcome.local_id})"
    if outcome.output:
        row += f" -> {outcome.output}"
    if outcome.error and outcome.state is not RowState.DONE:
        row += f": {outcome.error}"
    return row


def estimated(total: ProviderTotal) -> str:
    """A total's amounts per unit, with how many rows have no price ("2 unknown")."""
    parts = [amount(v, unit) for unit, v in sorted(total.amounts.items())]
    if total.unknown:
        parts.append(f"+ {total.unknown} unknown" if parts else f"{total.unknown} unknown")
    return " ".join(parts) or "0"


def in_usd(total: ProviderTotal) -> str:
    """A total's known part in USD; "unknown" when no row's price is known in USD."""
    return dollars(total.usd) if total.unknown < total.rows else "unknown"


def _priced(total: ProviderTotal) -> str:
    """A total's amounts, and what they make in USD where any is known."""
    if total.unknown < total.rows:
        return f"{estimated(total)}, {in_usd(total)}"
    return estimated(total)


def _add(into: ProviderTotal, more: Iterable[ProviderTotal]) -> None:
    for total in more:
        into.rows += total.rows
        into.usd += total.usd
        into.unknown += total.unknown
        for unit, value in total.amounts.items():
            into.amounts[unit] = into.amounts.get(unit, Decimal(0)) + value


def _bill(billed: dict[str, Decimal], outcome: RowOutcome) -> None:
    bill = outcome.result.billed if outcome.result is not None else None
    if bill is not None:
        billed[bill.unit] = billed.get(bill.unit, Decimal(0)) + bill.amount


def _billed(billed: dict[str, Decimal]) -> str:
    return ", ".join(amount(v, u) for u, v in sorted(billed.items()))


class PlainLines:
    """One line per row as it ends: counts per outcome and provider, what was billed so
    far, and the time left at the pace so far."""

    def __init__(self, total: int, now: Callable[[], float] = time.monotonic) -> None:
        self.total, self.now = total, now
        self.started = now()
        self.states: Counter[str] = Counter()
        self.providers: Counter[str] = Counter()
        self.billed: dict[str, Decimal] = {}

    def row(self, outcome: RowOutcome) -> None:
        click.echo(self.line(outcome, self.now()), err=True)

    def say(self, text: str) -> None:
        click.echo(text, err=True)

    def observe(self, line: int, provider: str, status: JobStatus | None) -> None:
        """A row's poll: piped lines are written as rows end, so none is written here."""

    def line(self, outcome: RowOutcome, now: float) -> str:
        self.states[outcome.state.value] += 1
        if outcome.provider:
            self.providers[outcome.provider] += 1
        _bill(self.billed, outcome)
        ended = sum(self.states.values())
        eta = (now - self.started) / ended * (self.total - ended)
        tally = ", ".join(f"{n} {state}" for state, n in sorted(self.states.items()))
        where = ", ".join(f"{p} {n}" for p, n in sorted(self.providers.items()))
        billed = f"; billed {_billed(self.billed)}" if self.billed else ""
        rest = f"; about {eta:.0f} s left" if ended < self.total else ""
        return f"[{ended}/{self.total}: {tally}; {where}{billed}{rest}] {describe(outcome)}"


class LiveBar(Progress):
    """The overall bar and, under it, rows per phase and outcome, per provider, and the
    cost: planned, estimated for the rows done so far, and what they billed.

    Drawn only from the event loop, which alone changes the counts it reads: by
    :meth:`refresh` a few times a second and when a line is printed above it. The ETA is
    rich's, from the pace of the last 30 s.
    """

    def __init__(
        self,
        batch_id: str,
        plans: Sequence[RowPlan],
        tally: Tally,
        *,
        console: Console,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tally = tally
        self.plans = {plan.row.line: plan for plan in plans}
        self.providers = sorted({p for plan in plans for p in plan.providers})
        self.planned = ProviderTotal(provider="*")
        _add(self.planned, totals(plans))
        self.done = ProviderTotal(provider="*")  # the estimates of the rows done so far
        self.billed: dict[str, Decimal] = {}
        self.ended: dict[str, Counter[RowState]] = {}  # per provider
        # Rows whose last poll gave a place in their provider's queue: line -> (provider,
        # jobs ahead), kept from the polls (on the event loop, as the redraws are).
        self.queued: dict[int, tuple[str, int]] = {}
        self._bar: TaskID | None = None
        super().__init__(  # which renders once: the counts must be there
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=False,  # stdout is the report's (--json), never the bar's
            get_time=now,
        )
        self._bar = self.add_task(f"batch {batch_id}", total=len(plans))

    def observe(self, line: int, provider: str, status: JobStatus | None) -> None:
        """A row's poll: where its job stands in the provider's queue, if it says."""
        if status is not None and status.queue_position is not None:
            self.queued[line] = (provider, status.queue_position)
        else:
            self.queued.pop(line, None)

    def row(self, outcome: RowOutcome) -> None:
        """Count a row's end; one that is not done (nor pending) is printed above the bar."""
        self.queued.pop(outcome.line, None)
        if outcome.provider:
            self.ended.setdefault(outcome.provider, Counter())[outcome.state] += 1
        if outcome.state is RowState.DONE:
            plan = self.plans[outcome.line]
            if outcome.provider != plan.providers[0]:  # priced on the first provider only
                plan = attrs.evolve(plan, estimate=None)
            _add(self.done, totals([plan]))
        _bill(self.billed, outcome)
        if outcome.state not in _QUIET:
            self.console.print(Text(describe(outcome)))

    def say(self, text: str) -> None:
        self.console.print(Text(text.lstrip("\n")))

    def get_renderables(self) -> Iterable[RenderableType]:
        if self._bar is not None:
            self.update(self._bar, completed=sum(self.tally.ended.values()))
        yield self.make_tasks_table(self.tasks)
        yield Text(self.states_line())
        yield Text(self.providers_line())
        yield Text(self.cost_line())

    def states_line(self) -> str:
        phases = self.tally.phases
        going = ", ".join(f"{phases[phase]} {phase.value}" for phase in Phase)
        ended = ", ".join(f"{n} {s.value}" for s in RowState if (n := self.tally.ended[s]))
        return f"rows: {going}" + (f"; {ended}" if ended else "")

    def providers_line(self) -> str:
        waiting: dict[str, list[int]] = {}
        for provider, ahead in self.queued.values():
            waiting.setdefault(provider, []).append(ahead)
        parts = []
        for provider in self.providers:
            flying = self.tally.in_flight[provider]
            counts = [f"{flying} in flight"] if flying else []
            if provider in waiting:
                places = waiting[provider]
                counts.append(f"{len(places)} in its queue (nearest {min(places)} ahead)")
            ended = self.ended.get(provider, Counter())
            counts += [f"{n} {s.value}" for s in RowState if (n := ended[s])]
            parts.append(f"{provider} {', '.join(counts) or 'none yet'}")
        return "providers: " + "; ".join(parts)

    def cost_line(self) -> str:
        line = f"cost: planned {_priced(self.planned)}"
        if self.done.rows:
            line += f"; {self.done.rows} done: estimated {_priced(self.done)}"
        return line + f", billed {_billed(self.billed) or 'nothing yet'}"


@asynccontextmanager
async def shown(
    batch_id: str, plans: Sequence[RowPlan], tally: Tally, *, console: Console | None = None
) -> AsyncIterator[PlainLines | LiveBar]:
    """The batch's progress while the block runs: a :class:`LiveBar` on ``console`` or on
    stderr when it is a terminal, else :class:`PlainLines`."""
    if console is None:
        if not sys.stderr.isatty():
            yield PlainLines(len(plans))
            return
        console = Console(stderr=True)
    with LiveBar(batch_id, plans, tally, console=console) as bar:
        redraws = asyncio.ensure_future(_redraw(bar))
        try:
            yield bar
        finally:
            redraws.cancel()


async def _redraw(bar: LiveBar) -> None:
    while True:
        bar.refresh()
        await asyncio.sleep(REDRAW_SECONDS)
