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
    from rich.progress import Progress
    from rich.table import Table

    from lipbridge.models import JobStatus


def money(value: Decimal | None) -> str:
    """An amount without exponent or trailing zeros (320000, 0.16); "-" when unknown."""
    return "-" if value is None else f"{value.normalize():f}"


def spread(low: Decimal | None, high: Decimal | None) -> str:
    """An amount, or a range "0 to 0.13" when an estimate is one (compute time)."""
    if low is None or low == high:
        return money(high)
    return f"{money(low)} to {money(high)}"


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
        t.add_column(column)
    return t


def queue_text(status: JobStatus) -> str:
    """``, 3 ahead in the queue`` where the provider says where the job is in its queue."""
    ahead = status.queue_position
    return "" if ahead is None else f", {ahead} ahead in the queue"


class StepReporter:
    """Reports named steps and poll updates: a live bar on a terminal, lines otherwise.
    A poll's new provider log lines are printed as they come (above a live bar)."""

    def __init__(self, live: Progress | None, *, quiet: bool = False) -> None:
        self._live = live
        self._quiet = quiet
        self._task = live.add_task("starting", total=100) if live else None
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
            self._live.update(self._task, description=text, completed=status.progress or 0)
        elif not self._quiet:
            click.echo(text, err=True)
        for line in fresh_lines(self._logs, status.logs):
            if self._live is not None:
                self._live.console.print(f"  log: {line}", markup=False, highlight=False)
            elif not self._quiet:
                click.echo(f"  log: {line}", err=True)
        self._logs = status.logs or self._logs  # a status without logs (a callback's) hides none

    def done(self) -> None:
        if self._live is not None and self._task is not None:
            self._live.update(self._task, completed=100)


@contextmanager
def progress(enabled: bool = True) -> Iterator[StepReporter]:
    """A :class:`StepReporter`: live on a terminal, plain lines when piped, silent if disabled."""
    if not enabled or not sys.stderr.isatty():
        yield StepReporter(None, quiet=not enabled)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as live:
        yield StepReporter(live)
