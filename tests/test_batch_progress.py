"""``lipbridge batch``'s progress: the live bar on a terminal (rich, on a console that
writes to a string) and the plain lines when piped. Time is a fake clock; the assertions
are on what is shown, not on its layout."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

import pytest
from rich.console import Console

from lipbridge import JobRequest
from lipbridge.batch.manifest import Row
from lipbridge.batch.plan import RowPlan
from lipbridge.batch.runner import Phase, RowOutcome, RowState, Tally
from lipbridge.cli.batch_progress import LiveBar, PlainLines, shown
from lipbridge.models import BilledUsage, CostEstimate, JobResult


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def plan(line: int, providers: tuple[str, ...], credits: str | None = "4") -> RowPlan:
    """A row priced on its first provider: ``credits`` at $0.10 each, or unknown."""
    request = JobRequest(video="https://cdn.invalid/v.mp4", audio=f"https://cdn.invalid/{line}")
    first = providers[0]
    estimate = (
        CostEstimate(provider=first, model="m", amount=Decimal(credits), unit="credits",
                     usd=Decimal(credits) / 10)
        if credits is not None
        else CostEstimate.unknown(first, "m", "a URL's length is unknown offline")
    )
    row = Row(line=line, request=request, providers=providers, output=f"out/{line}.mp4")
    return RowPlan(row=row, providers=providers, estimate=estimate)


def ended(
    line: int, state: RowState, provider: str | None, billed: str | None = None,
    error: str | None = None,
) -> RowOutcome:
    bill = BilledUsage(amount=Decimal(billed), unit="credits") if billed else None
    done = state is RowState.DONE
    return RowOutcome(
        line=line, state=state, provider=provider,
        local_id=f"L{line}" if provider else None,
        result=JobResult(video_url="https://cdn.invalid/out.mp4", billed=bill) if done else None,
        output=f"out/{line}.mp4" if done else None, error=error,
        attempts=(provider,) if provider else (),
    )


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system=None, width=200), out


def frame(bar: LiveBar) -> str:
    """The bar as drawn now, as plain text."""
    console, out = terminal()
    console.print(bar)
    return out.getvalue()


PLANS = [
    plan(1, ("foxapi",)),
    plan(2, ("foxapi", "jogg")),
    plan(3, ("jogg",), credits=None),
    plan(4, ("jogg",)),
    plan(5, ("foxapi",)),
]


def test_the_live_bar_counts_rows_per_phase_and_provider_with_an_eta_and_the_cost() -> None:
    clock, tally = Clock(), Tally(len(PLANS))
    console, _ = terminal()
    bar = LiveBar("B1", PLANS, tally, console=console, now=clock)
    first = frame(bar)
    assert "batch B1" in first and "0/5" in first and "ETA -:--:--" in first
    assert "rows: 5 queued, 0 submitting, 0 running, 0 downloading" in first
    assert "providers: foxapi none yet; jogg none yet" in first
    # Planned: rows 1, 2, 4, 5 at 4 credits ($0.40) each; row 3's price is unknown.
    assert "cost: planned 16 credits + 1 unknown, $1.60, billed nothing yet" in first

    for provider in ("foxapi", "foxapi", "jogg"):
        tally.enter(provider, Phase.SUBMITTING)
    tally.move(Phase.SUBMITTING, Phase.RUNNING)
    tally.move(Phase.SUBMITTING, Phase.RUNNING)
    tally.move(Phase.RUNNING, Phase.DOWNLOADING)
    shown_now = frame(bar)
    assert "rows: 2 queued, 1 submitting, 1 running, 1 downloading" in shown_now
    assert "foxapi 2 in flight; jogg 1 in flight" in shown_now

    clock.now = 10.0  # row 1 done on foxapi
    tally.leave("foxapi", Phase.DOWNLOADING)
    tally.end(RowState.DONE)
    bar.row(ended(1, RowState.DONE, "foxapi", billed="3.5"))
    assert "1/5" in frame(bar)
    clock.now = 20.0  # row 2 refused by foxapi, then done on jogg: its estimate was foxapi's
    tally.leave("foxapi", Phase.RUNNING)
    tally.end(RowState.DONE)
    bar.row(ended(2, RowState.DONE, "jogg", billed="5"))
    later = frame(bar)
    # One row ended in the 10 s since the first: 3 left at that pace.
    assert "2/5" in later and "ETA 0:00:30" in later
    assert "rows: 2 queued, 1 submitting, 0 running, 0 downloading; 2 done" in later
    assert "foxapi 1 done; jogg 1 in flight, 1 done" in later
    assert "2 done: estimated 4 credits + 1 unknown, $0.40, billed 8.5 credits" in later


def test_rows_that_did_not_end_done_are_printed_above_the_bar() -> None:
    console, out = terminal()
    tally = Tally(len(PLANS))
    with LiveBar("B1", PLANS, tally, console=console, now=Clock()) as bar:
        bar.row(ended(1, RowState.DONE, "foxapi"))
        bar.row(ended(3, RowState.FAILED, "jogg", error="jogg: no face [in frame 1]"))
        bar.row(ended(4, RowState.REJECTED, None, error="jogg: insufficient credits"))
        bar.row(ended(5, RowState.PENDING, None))
        bar.say("\nstopping: no more submits")
        bar.refresh()
    printed = out.getvalue()
    assert "line 3 failed (jogg L3): jogg: no face [in frame 1]" in printed  # not markup
    assert "line 4 rejected: jogg: insufficient credits" in printed
    assert "stopping: no more submits" in printed
    assert "line 1 done" not in printed and "line 5 pending" not in printed
    assert "failed" in bar.providers_line() and "jogg 1 failed" in bar.providers_line()


def test_the_plain_lines_keep_their_format() -> None:
    clock = Clock()
    lines = PlainLines(3, now=clock)
    clock.now = 4.0
    first = lines.line(ended(2, RowState.DONE, "foxapi", billed="3.5"), clock())
    assert first == (
        "[1/3: 1 done; foxapi 1; billed 3.5 credits; about 8 s left] "
        "line 2 done (foxapi L2) -> out/2.mp4"
    )
    second = lines.line(ended(1, RowState.FAILED, "jogg", error="jogg: no face"), 6.0)
    assert second == (
        "[2/3: 1 done, 1 failed; foxapi 1, jogg 1; billed 3.5 credits; about 3 s left] "
        "line 1 failed (jogg L1): jogg: no face"
    )
    last = lines.line(ended(3, RowState.PENDING, None), 7.0)
    assert last == (
        "[3/3: 1 done, 1 failed, 1 pending; foxapi 1, jogg 1; billed 3.5 credits] line 3 pending"
    )


def test_progress_is_a_live_bar_on_a_terminal_and_plain_lines_when_piped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console, out = terminal()

    async def main() -> tuple[object, object]:
        async with shown("B1", PLANS, Tally(len(PLANS)), console=console) as live:
            live.say("stopping: no more submits")
        monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
        async with shown("B1", PLANS, Tally(len(PLANS))) as plain:
            plain.say("stopping: no more submits")
        return live, plain

    live, plain = asyncio.run(main())
    assert isinstance(live, LiveBar) and isinstance(plain, PlainLines)
    drawn = out.getvalue()
    assert "batch B1" in drawn and "stopping: no more submits" in drawn
    # Transient: once the block ends the cursor is back and the bar is erased.
    assert drawn.rindex("\x1b[?25h") > drawn.rindex("batch B1")
    assert drawn.endswith("\x1b[2K")
