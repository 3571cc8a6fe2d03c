"""Output: JSON for machines, rich tables for people, progress that suits the terminal.

rich, json and the cattrs converter are imported where they are used: every command
imports this module, and ``lipbridge --help`` needs none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.progress import Progress, Task
    from rich.table import Table

    from lipbridge.models import JobStatus


# Every amount the CLI prints goes through :func:`money`: estimates, bills, the ledger's
# costs, a batch's totals, the demo's table.
CENTS = 2


def is_currency(unit: str) -> bool:
    """An ISO 4217 code (USD): amounts in it are shown to the cent at least."""
    return len(unit) == 3 and unit.isascii() and unit.isalpha() and unit.isupper()


def money(value: Decimal | None, unit: str = "") -> str:
    """An amount, one way everywhere; "-" when unknown.

    No exponent and no trailing zeros beyond the cents (0.240000000 reads 0.24, 320000
    stays 320000); more digits only where they carry information (0.0125). Cents are kept
    for a currency (0.2 USD reads 0.20) and for an amount given to the cent or finer, such
    as a price table that rounds to 0.01 credit (JoggAI's 1.00 credits).
    """
    if value is None:
        return "-"
    if not value.is_finite():
        return str(value)
    exponent = value.as_tuple().exponent
    given_cents = isinstance(exponent, int) and exponent <= -CENTS
    floor = CENTS if is_currency(unit) or given_cents else 0
    trimmed = value.normalize().as_tuple().exponent
    places = max(floor, -trimmed if isinstance(trimmed, int) else 0)
    return f"{value:.{places}f}"


def amount(value: Decimal | None, unit: str) -> str:
    """An amount with its unit ("0.04 credits"); "-" when unknown."""
    return "-" if value is None else f"{money(value, unit)} {unit}".rstrip()


def dollars(value: Decimal | None) -> str:
    """A USD amount as "$0.24"; "-" when unknown."""
    return "-" if value is None else f"${money(value, 'USD')}"


def spread(low: Decimal | None, high: Decimal | None, unit: str = "", sign: str = "") -> str:
    """An amount, or a range "0 to 0.13" when an estimate is one (compute time); ``sign``
    ("$") goes before each end."""
    if low is None or low == high:
        return money(high, unit) if high is None else f"{sign}{money(high, unit)}"
    return f"{sign}{money(low, unit)} to {sign}{money(high, unit)}"


def emit_json(data: Any) -> None:
    import json

    from lipbridge.convert import unstructure

    click.echo(json.dumps(unstructure(data), indent=2, sort_keys=True))


def print_table(table: Table) -> None:
    from rich.console import Console

    Console(soft_wrap=True).print(table)


def table(*columns: str, title: str | None = None) -> Table:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")  # a narrow terminal wraps a value, never cuts it
    return t


def queue_text(status: JobStatus) -> str:
    """``, 3 ahead in the queue`` where the provider says where the job is in its queue."""
    ahead = status.queue_position
    return "" if ahead is None else f", {ahead} ahead in the queue"


class StepReporter:
    """Reports named steps, poll updates and a download: a live bar on a terminal, lines
    otherwise. A poll's new provider log lines are printed as they come (above a live bar).

    The bar pulses while the provider reports no percentage; a download shows its bytes
    and speed (and pulses when the server announces no length).
    """

    def __init__(self, live: Progress | None, *, quiet: bool = False) -> None:
        self._live = live
        self._quiet = quiet
        self._task = live.add_task("starting", total=None) if live else None
        self._logs: tuple[str, ...] = ()  # the lines shown so far

    def step(self, text: str) -> None:
        if self._live is not None and self._task is not None:
            self._live.update(self._task, description=text)
        elif not self._quiet:
            click.echo(text, err=True)

    def poll(self, status: JobStatus) -> None:
        from lipbridge.statuses import fresh_lines

        pct = f" {status.progress:.0f}%" if status.progress is not None else ""
        text = f"waiting: {status.state.value} ({status.raw_status}){queue_text(status)}{pct}"
        if self._live is not None and self._task is not None:
            self._total(100 if status.progress is not None else None)
            self._live.update(self._task, description=text, completed=status.progress or 0)
        elif not self._quiet:
            click.echo(text, err=True)
        for line in fresh_lines(self._logs, status.logs):
            if self._live is not None:
                self._live.console.print(f"  log: {line}", markup=False, highlight=False)
            elif not self._quiet:
                click.echo(f"  log: {line}", err=True)
        self._logs = status.logs or self._logs  # a status without logs (a callback's) hides none

    def transfer(self, done: int, total: int | None) -> None:
        """A download's bytes so far (and the announced total): the bar shows bytes and speed."""
        if self._live is not None and self._task is not None:
            task = self._bar()
            if not task.fields.get("transfer") and not task.description.startswith("download"):
                self._live.update(self._task, description="downloading")
            self._total(total)
            self._live.update(self._task, completed=done, transfer=True)

    def _total(self, total: int | None) -> None:
        """The bar's total; None pulses it (``Progress.update`` cannot set None)."""
        if self._live is not None and self._task is not None:
            self._bar().total = total

    def _bar(self) -> Task:
        assert self._live is not None
        return next(task for task in self._live.tasks if task.id == self._task)

    def done(self) -> None:
        if self._live is not None and self._task is not None:
            task = self._bar()
            finished = task.total if task.total is not None else max(task.completed, 1)
            self._live.update(self._task, total=finished, completed=finished)


@contextmanager
def progress(enabled: bool = True) -> Iterator[StepReporter]:
    """A :class:`StepReporter`: live on a terminal, plain lines when piped, silent if disabled.
    Downloads started in the block report their bytes to it."""
    from lipbridge.download import watching

    if not enabled or not sys.stderr.isatty():
        reporter = StepReporter(None, quiet=not enabled)
        with watching(reporter.transfer):
            yield reporter
        return
    from lipbridge.cli.live import live_progress

    with live_progress() as live:
        reporter = StepReporter(live)
        with watching(reporter.transfer):
            yield reporter
