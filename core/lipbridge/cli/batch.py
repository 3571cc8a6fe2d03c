"""``lipbridge batch``: many jobs from a manifest (or the shorthand), planned, priced,
capped and resumable; built on :class:`~lipbridge.aio.AsyncClient`."""

from __future__ import annotations

import signal
import sys
from collections import Counter
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from lipbridge.cli.app import ExitCode, cli, client_from
from lipbridge.cli.options import positive_seconds
from lipbridge.cli.render import amount, emit_json, print_table, table

if TYPE_CHECKING:
    from lipbridge.batch.manifest import Row
    from lipbridge.batch.plan import ProviderTotal, RowPlan
    from lipbridge.batch.runner import Caps, RowOutcome
    from lipbridge.client import Client

# The options a batch keeps in the ledger: `batch resume ID` runs with them again, unless
# the command line gives another value.
KEPT = (
    "max_concurrent", "max_total", "submits_per_second", "max_cost", "allow_unknown_cost",
    "retry_failed", "skip_invalid", "timeout",
)
# Engines other than this process: (client, rows, plans, source, caps, options) -> outcomes.
ENGINES = "lipbridge.engines"
Engine = Callable[
    ["Client", "list[Row]", "list[RowPlan]", str, "Caps", "dict[str, Any]"], "list[RowOutcome]"
]
# The exit code a row's end gives the whole batch; the worst one wins.
_EXIT = {
    "done": ExitCode.OK,
    "pending": ExitCode.INTERRUPTED,  # stopped by a Ctrl-C before its submit
    "failed": ExitCode.JOB_FAILED,
    "rejected": ExitCode.PROVIDER,
    "unknown": ExitCode.PROVIDER,
    "waiting": ExitCode.TIMEOUT,
    "busy": ExitCode.BUSY,
}


def _caps(pairs: tuple[str, ...], total: int, rate: float | None) -> Caps:
    from lipbridge.batch.runner import Caps

    per: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not value.isdigit() or int(value) < 1:
            raise click.BadParameter(
                f"{pair!r} is not PROVIDER=N with N at least 1", param_hint="--max-concurrent"
            )
        per[name] = int(value)
    return Caps(per_provider=per, total=total, submits_per_second=rate)


def _max_cost(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value.lstrip("$"))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter(f"{value!r} is not an amount in USD", param_hint="--max-cost")
    return amount


@cli.command()
@click.argument("source", required=False, metavar="MANIFEST | resume ID")
@click.argument("batch_id", required=False, metavar="")
@click.option("--video", help="Shorthand: this video for every audio file of --audio-dir.")
@click.option("--audio-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Shorthand: one row per audio file in this folder.")
@click.option("-o", "--output", help="Shorthand: output template, e.g. 'out/{audio_stem}.mp4'.")
@click.option("--provider", "providers", multiple=True,
              help="Provider for rows that name none; repeat or use --providers for fallback.")
@click.option("--providers", "provider_list", help="a,b,c: fallback order before acceptance.")
@click.option("--model", help="Shorthand: model name.")
@click.option("--sync-mode", help="Shorthand: sync mode.")
@click.option("--max-concurrent", "max_concurrent", multiple=True, metavar="PROVIDER=N",
              help="Jobs in flight at PROVIDER at once (repeatable; default 8 each).")
@click.option("--max-total", type=click.IntRange(min=1), default=256, show_default=True,
              help="Jobs in flight at once, all providers together.")
@click.option("--submits-per-second", type=click.FloatRange(min=0, min_open=True),
              help="Submits a second to each provider, at most.")
@click.option("--max-cost", help="Refuse to start if the known total is over this (USD).")
@click.option("--allow-unknown-cost", is_flag=True,
              help="Run rows whose price is unknown (most resellers publish none).")
@click.option("--dry-run", is_flag=True, help="Print the plan and the cost; send nothing.")
@click.option("--skip-invalid", is_flag=True, help="Run the valid rows when some are invalid.")
@click.option("--new-batch", is_flag=True,
              help="Start a new batch from a manifest an earlier batch ran with other rows.")
@click.option("--retry-failed", is_flag=True, help="Submit again rows whose job failed.")
@click.option("--timeout", type=float, callback=positive_seconds, default=1800.0,
              show_default=True, help="Seconds to wait for each job.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@click.option("--engine", default="local", show_default=True, metavar="NAME",
              help="Where the jobs run: here, or an installed engine (temporal).")
@click.pass_context
def batch(
    ctx: click.Context, /, source: str | None, batch_id: str | None, **opts: Any
) -> None:
    """Run many jobs: from a CSV or JSON Lines MANIFEST, from --video with --audio-dir,
    or again with `resume ID`.

    Every row is checked and priced before anything is sent. Running the same rows again
    (or `batch resume ID`) continues the batch: finished rows are skipped, jobs in
    flight are waited for, nothing is submitted twice. The first Ctrl-C stops
    submitting and keeps waiting; the second exits 130, everything resumable.
    """
    client = client_from(ctx)
    run = _engine(opts["engine"])
    providers = tuple(opts["providers"]) + tuple(
        p.strip() for p in (opts["provider_list"] or "").split(",") if p.strip()
    )
    rows, where, kept = _rows(client, source, batch_id, providers, opts)
    for name, value in kept.items():
        if name in KEPT and ctx.get_parameter_source(name) is ParameterSource.DEFAULT:
            opts[name] = tuple(value) if name == "max_concurrent" else value
    from lipbridge.batch.plan import check_budget, plan_rows, totals

    plans, problems = plan_rows(client, rows)
    if problems and not opts["skip_invalid"]:
        from lipbridge.batch.manifest import ManifestError

        raise ManifestError(where, problems)
    for problem in problems:
        click.echo(f"skipped: {problem}", err=True)
    sums = totals(plans)
    _print_plan(plans, sums, as_json=opts["as_json"], dry_run=opts["dry_run"])
    if opts["dry_run"]:
        return
    check_budget(sums, max_usd=_max_cost(opts["max_cost"]),
                 allow_unknown=opts["allow_unknown_cost"])
    caps = _caps(opts["max_concurrent"], opts["max_total"], opts["submits_per_second"])
    outcomes = run(client, rows, plans, where, caps, opts)
    _report(outcomes, as_json=opts["as_json"])
    worst = max((_EXIT[o.state.value] for o in outcomes), default=ExitCode.OK)
    ctx.exit(int(worst))


def _engine(name: str) -> Engine:
    """How the batch runs: :func:`_run` here, or an engine from the ``lipbridge.engines``
    entry points (``lipbridge-temporal`` adds ``temporal``), called the same way."""
    if name == "local":
        return _run
    from importlib import metadata

    found = {ep.name: ep for ep in metadata.entry_points(group=ENGINES)}
    if name not in found:
        raise click.BadParameter(
            f"{name!r} is not an installed engine; installed: local"
            + "".join(f", {other}" for other in sorted(found)),
            param_hint="--engine",
        )
    engine: Engine = found[name].load()
    return engine


def _rows(
    client: Client, source: str | None, batch_id: str | None, providers: tuple[str, ...],
    opts: dict[str, Any],
) -> tuple[list[Row], str, dict[str, Any]]:
    """The rows, where they come from, and (for `resume ID`) the options kept with them."""
    from lipbridge.batch.manifest import ManifestError, read_manifest, shorthand

    if source == "resume":
        if not batch_id:
            raise click.UsageError("batch resume needs the batch id")
        from lipbridge.batch import row_of
        from lipbridge.cli.ledger import jobs_of

        found, where, kept, texts = jobs_of(client).ledger.batch(batch_id)
        click.echo(f"resuming batch {found} ({where}, {len(texts)} rows)", err=True)
        return [row_of(text) for _, text in texts], where, kept
    if batch_id:
        raise click.UsageError(f"unexpected argument {batch_id!r}")
    shorthand_given = opts["video"] or opts["audio_dir"]
    if source and shorthand_given:
        raise click.UsageError("give a MANIFEST or --video with --audio-dir, not both")
    if source:
        rows, problems = read_manifest(Path(source), providers=providers)
        where = source
    elif opts["video"] and opts["audio_dir"]:
        rows, problems = shorthand(
            video=opts["video"], audio_dir=opts["audio_dir"], providers=providers,
            output=opts["output"], model=opts["model"], sync_mode=opts["sync_mode"],
        )
        where = f"{opts['video']} x {opts['audio_dir']}"
    else:
        raise click.UsageError("give a MANIFEST, or --video with --audio-dir, or resume ID")
    if problems and not opts["skip_invalid"]:
        raise ManifestError(where, problems)
    for problem in problems:
        click.echo(f"skipped: {problem}", err=True)
    return rows, where, {}


def _print_plan(
    plans: list[RowPlan], sums: list[ProviderTotal], *, as_json: bool, dry_run: bool
) -> None:
    """The plan as a table; with --json, as JSON for --dry-run, else nothing (stdout is
    the report's alone). The providers a row skips, on stderr."""
    for plan in plans:
        for provider, why in plan.skipped:
            click.echo(f"line {plan.row.line}: not on {provider}: {why}", err=True)
    if as_json:
        if dry_run:
            emit_json({"rows": len(plans), "totals": sums})
        return
    from lipbridge.cli.batch_progress import estimated, in_usd

    t = table("provider", "rows", "estimated", "USD", title=f"plan: {len(plans)} rows")
    for s in sums:
        t.add_row(s.provider, str(s.rows), estimated(s), in_usd(s))
    print_table(t)


def _run(
    client: Client, rows: list[Row], plans: list[RowPlan], where: str, caps: Caps,
    opts: dict[str, Any],
) -> list[RowOutcome]:
    import asyncio  # here: `lipbridge --help` lists this command without the event loop

    from lipbridge.aio import AsyncClient
    from lipbridge.batch import open_batch
    from lipbridge.batch.runner import BatchRun, RowState
    from lipbridge.cli.batch_progress import shown
    from lipbridge.cli.ledger import jobs_of

    ledger = jobs_of(client).ledger
    settings = {name: opts[name] for name in KEPT}
    batch_id, resumed = open_batch(
        ledger, rows, where, settings, refuse_changed=not opts["new_batch"]
    )
    click.echo(
        f"batch {batch_id}{' (continued)' if resumed else ''}: {len(plans)} rows; if this "
        f"stops, run the same command again or `lipbridge batch resume {batch_id}`",
        err=True,
    )
    outcomes: list[RowOutcome] = []

    async def main() -> None:
        aio = AsyncClient(client)
        run = BatchRun(aio, batch_id, plans, caps, timeout=opts["timeout"],
                       retry_failed=opts["retry_failed"])
        task = asyncio.current_task()
        presses = 0
        async with shown(batch_id, plans, run.tally) as progress:
            run.observe = progress.observe  # queue positions, on a live bar

            def interrupted() -> None:
                nonlocal presses
                presses += 1
                if presses == 1:
                    run.stop_submitting()
                    progress.say("\nstopping: no more submits; waiting for the jobs in "
                                 "flight (Ctrl-C again to leave them, resumable)")
                elif task is not None:
                    task.cancel()

            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGINT, interrupted)
            try:
                async for outcome in run.outcomes():
                    outcomes.append(outcome)
                    progress.row(outcome)
            finally:
                loop.remove_signal_handler(signal.SIGINT)
                await aio.aclose(close_client=False)

    try:
        asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        click.echo(f"\ninterrupted; resume with `lipbridge batch resume {batch_id}`", err=True)
        raise SystemExit(ExitCode.INTERRUPTED) from None
    pending = sum(o.state is RowState.PENDING for o in outcomes)
    if pending:
        click.echo(f"stopped: {pending} row(s) not submitted; `lipbridge batch resume "
                   f"{batch_id}` submits them", err=True)
    return sorted(outcomes, key=lambda o: o.line)


def _report(outcomes: list[RowOutcome], *, as_json: bool) -> None:
    if as_json:
        emit_json({"rows": outcomes})
        return
    per: dict[str, Counter[str]] = {}
    billed: dict[str, Counter[str]] = {}
    for o in outcomes:
        provider = o.provider or "-"
        per.setdefault(provider, Counter())[o.state.value] += 1
        if o.result is not None and o.result.billed is not None:
            bill = o.result.billed
            billed.setdefault(provider, Counter())[bill.unit] += bill.amount  # type: ignore[assignment]
    t = table("provider", "rows", "outcome", "billed")
    for provider in sorted(per):
        states = ", ".join(f"{n} {s}" for s, n in sorted(per[provider].items()))
        bills = " ".join(amount(Decimal(v), u) for u, v in billed.get(provider, {}).items())
        t.add_row(provider, str(sum(per[provider].values())), states, bills or "-")
    print_table(t)
    sys.stdout.flush()
