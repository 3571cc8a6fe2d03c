"""The live bar of a single job on a terminal (``wait``, ``run``, ``download``): the step,
a bar, then the bytes and speed of a download or the time so far.

Imported only when stderr is a terminal: it imports rich.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def transfer_text(done: int, total: int | None, speed: float | None) -> str:
    """ "1.2/3.4 MB at 2.1 MB/s": a download's bytes so far, of its total where announced."""
    size = f"{decimal(done)}/{decimal(total)}" if total is not None else decimal(done)
    return size + (f" at {decimal(int(speed))}/s" if speed else "")


class TransferColumn(ProgressColumn):
    """A download's bytes and speed; for the wait before it, the time elapsed."""

    def __init__(self) -> None:
        super().__init__()
        self._elapsed = TimeElapsedColumn()

    def render(self, task: Task) -> Text:
        if not task.fields.get("transfer"):
            return self._elapsed.render(task)
        total = int(task.total) if task.total is not None else None
        text = transfer_text(int(task.completed), total, task.speed)
        return Text(text, style="progress.download")


@contextmanager
def live_progress(console: Console | None = None) -> Iterator[Progress]:
    """One live bar on stderr (or ``console``), kept on screen when it ends."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TransferColumn(),
        console=console or Console(stderr=True),
        transient=False,
    ) as live:
        yield live
