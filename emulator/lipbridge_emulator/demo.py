"""The offline main job: sample media through every provider plugin, on the emulator.

It is what an integration does against a real provider (estimate, submit, wait,
download), with the emulator standing in, so it runs with no key and no network.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click
from attrs import frozen
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lipbridge import Client, JobRequest, LipbridgeError, Registry
from lipbridge.cli.render import amount, dollars
from lipbridge.context import Clock
from lipbridge.media import probe_seconds
from lipbridge.models import CostEstimate, JobResult, JobState, JobStatus
from lipbridge_emulator import samples
from lipbridge_emulator.engine import Emulator
from lipbridge_emulator.jobs import Timing


@frozen(kw_only=True)
class Outcome:
    provider: str
    path: Path | None = None
    seconds: float | None = None
    estimate: CostEstimate | None = None
    result: JobResult | None = None
    error: str | None = None


def estimated(outcome: Outcome) -> str:
    est = outcome.estimate
    if est is None:
        return "-"
    if not est.known:
        return "unknown (see below)"
    usd = f" ({dollars(est.usd)})" if est.usd is not None else ""
    return f"{amount(est.amount, est.unit)}{usd}"


def billed(outcome: Outcome) -> str:
    usage = outcome.result.billed if outcome.result else None
    if usage is None:
        return "not reported by the provider"
    usd = f" ({dollars(usage.usd)})" if usage.usd is not None else ""
    return f"{amount(usage.amount, usage.unit)}{usd}"


def lip_sync(
    client: Client,
    provider: str,
    video: tuple[str, float],
    audio: tuple[str, float],
    out: Path,
    report: Callable[[str, float | None], None],
) -> Outcome:
    """One job, the way an application would run it."""
    info = client.info(provider)
    caps = info.model(info.default_model)
    modes = sorted(caps.sync_modes, key=lambda m: m.value)
    mode = caps.default_sync_mode or (modes[0] if modes else None)
    request = JobRequest(video=video[0], audio=audio[0], sync_mode=mode)
    try:
        estimate = client.estimate_cost(
            provider, request, video_seconds=video[1], audio_seconds=audio[1]
        )
        report("submit", 0)

        def progress(status: JobStatus) -> None:
            report(f"wait: {status.raw_status}", status.progress)
            if status.state is JobState.SUCCEEDED:
                report("download", 100)

        path = out / f"{provider}.mp4"
        result = client.run(provider, request, path, timeout=600, on_progress=progress)
    except LipbridgeError as exc:
        report(f"failed: {exc.message}", None)
        return Outcome(provider=provider, error=exc.message)
    report("done", 100)
    seconds = probe_seconds(path, "output")
    return Outcome(provider=provider, path=path, seconds=seconds, estimate=estimate, result=result)


def run_demo(
    providers: list[str], out: Path, speed: float, clock: Clock | None = None
) -> list[Outcome]:
    """Run the demo and print its summary; ``clock`` lets tests run it in virtual time."""
    out.mkdir(parents=True, exist_ok=True)
    video_path, audio_path = samples.write_samples(out / "samples")
    video_s, audio_s = probe_seconds(video_path, "video"), probe_seconds(audio_path, "audio")
    registry = Registry()
    with Emulator(timing=Timing(speed=speed), clock=clock) as emu:
        names = providers or [n for n in registry.names() if n in emu.dialects]
        missing = [n for n in names if n not in emu.dialects or n not in registry.names()]
        if missing or not names:
            raise click.UsageError(
                f"cannot run {', '.join(missing) or 'anything'}: the emulator speaks "
                f"{', '.join(sorted(emu.dialects))}; installed: {', '.join(registry.names())}"
            )
        click.echo(f"emulator on {emu.url}; samples: {video_path} ({video_s:.2f} s), "
                   f"{audio_path} ({audio_s:.2f} s)")
        video = (emu.upload(video_path.read_bytes(), video_path.name), video_s)
        audio = (emu.upload(audio_path.read_bytes(), audio_path.name), audio_s)
        client = Client(
            registry=registry,
            clock=emu.clock,
            api_keys={n: emu.key for n in names},
            base_urls={n: emu.base_url(n) for n in names},
            ledger=out / "jobs.sqlite",  # its own: the emulator's jobs end with the demo
            user_dir=False,  # the user's own prices and settings are not the emulator's
        )
        with client, _Display(names) as display:
            outcomes: dict[str, Outcome] = {}

            def run(name: str) -> None:
                def report(text: str, percent: float | None) -> None:
                    display.update(name, text, percent)

                try:
                    outcomes[name] = lip_sync(client, name, video, audio, out, report)
                except Exception as exc:  # a bug: show it in the summary, not as a stray thread
                    outcomes[name] = Outcome(provider=name, error=f"{type(exc).__name__}: {exc}")

            threads = [threading.Thread(target=run, args=(n,)) for n in names]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    _summary([outcomes[n] for n in names])
    click.echo(f"samples, videos and the job ledger are in {out.resolve()} (--out moves them)")
    click.echo(f"every job is in the job ledger {out / 'jobs.sqlite'}: "
               f"lipbridge --ledger {out / 'jobs.sqlite'} jobs list")
    return [outcomes[n] for n in names]


def _summary(outcomes: list[Outcome]) -> None:
    title = "lip-synced offline (the emulator does not move lips)"
    table = Table(title=title, title_justify="left")
    for column in ("provider", "output", "duration", "estimated", "billed"):
        table.add_column(column, overflow="fold", no_wrap=column in ("provider", "output"))
    for o in outcomes:
        if o.error:
            table.add_row(o.provider, f"failed: {o.error}", "-", "-", "-")
            continue
        table.add_row(o.provider, str(o.path), f"{o.seconds:.2f} s", estimated(o), billed(o))
    console = Console(soft_wrap=True, width=max(100, Console().width))
    console.print(table)
    for o in outcomes:
        if o.estimate is not None and not o.estimate.known:
            console.print(f"{o.provider}: no estimate: {o.estimate.unknown_reason}")


class _Display:
    """A live bar per provider on a terminal; one line per step change otherwise."""

    def __init__(self, names: list[str]) -> None:
        self._live = sys.stderr.isatty()
        self._progress = Progress(
            TextColumn("{task.fields[provider]:<9}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._tasks = {n: self._progress.add_task("queued", total=100, provider=n) for n in names}
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> _Display:
        if self._live:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._progress.stop()

    def update(self, name: str, text: str, percent: float | None) -> None:
        if self._live:
            task = self._tasks[name]
            self._progress.update(task, description=text)
            if percent is not None:
                self._progress.update(task, completed=percent)
            return
        with self._lock:
            if self._last.get(name) != text:
                self._last[name] = text
                click.echo(f"{name:<9} {text}" + (f" {percent:.0f}%" if percent else ""), err=True)
