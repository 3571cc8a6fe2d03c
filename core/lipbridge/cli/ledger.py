"""Commands on the job ledger: ``run`` (the one-call job) and ``jobs ...``."""

from __future__ import annotations

import datetime as dt
import functools
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from lipbridge.cli.app import ExitCode, cli, client_from, default_client, exit_code_for, report
from lipbridge.cli.jobs import describe, expiry_notice, show_route
from lipbridge.cli.options import (
    force_option,
    output_target,
    positive_seconds,
    provider_argument,
    provider_or_default,
    request_from,
    with_request_options,
)
from lipbridge.cli.render import (
    amount,
    dollars,
    emit_json,
    print_table,
    progress,
    queue_text,
    table,
)
from lipbridge.errors import ConfigurationError, InvalidRequest
from lipbridge.ledger.records import LocalState

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.jobs import Jobs
    from lipbridge.ledger import Ledger
    from lipbridge.models import JobHandle



def jobs_of(client: Client) -> Jobs:
    jobs = client.jobs
    if jobs is None:
        raise ConfigurationError("this client keeps no job ledger; the jobs commands need one")
    return jobs


def ledger_of(ctx: click.Context) -> Ledger:
    """The ledger alone, for commands that only read it: the default client would be
    built (and the HTTP stack imported) only to reach it."""
    factory = ctx.find_root().obj
    if isinstance(factory, functools.partial) and factory.func is default_client:
        path = factory.args[0]
    elif factory is default_client:
        path = None
    else:  # a client made elsewhere (tests, embedding): its own ledger
        return jobs_of(client_from(ctx)).ledger
    from lipbridge.ledger import Ledger, default_path

    ledger = Ledger(path or default_path())
    ctx.call_on_close(ledger.close)
    return ledger


@contextmanager
def resumable(local_id: Callable[[], str | None] | str | None) -> Iterator[None]:
    """Ctrl-C ends the command with 130 and says how to pick the job up again."""
    try:
        yield
    except KeyboardInterrupt:
        known = local_id() if callable(local_id) else local_id
        what = f"job {known} is in the ledger: resume it with `lipbridge jobs resume {known}`"
        if not known:
            what = "the ledger has every job: resume with `lipbridge jobs resume --all`"
        click.echo(f"\ninterrupted; {what}", err=True)
        raise SystemExit(ExitCode.INTERRUPTED) from None


def announce_local(handle: JobHandle) -> None:
    click.echo(
        f"job {handle.local_id}: {handle.provider} job {handle.job_id}; if this stops, "
        f"resume with: lipbridge jobs resume {handle.local_id}",
        err=True,
    )


@cli.command()
@provider_argument
@with_request_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save the video here.")
@force_option
@click.option(
    "--timeout", type=float, callback=positive_seconds, default=1800.0, show_default=True,
    help="Seconds to wait before giving up (the job stays in the ledger to resume).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def run(
    ctx: click.Context,
    /,
    provider: str | None,
    output: str | None,
    force: bool,
    timeout: float,
    as_json: bool,
    **request_args: Any,
) -> None:
    """Submit one job to PROVIDER (default: the config file's default_provider), wait for
    it and download it, recorded in the job ledger at every step.

    The local job id is printed before waiting: if the command is stopped (Ctrl-C, a
    crash, a lost connection), `lipbridge jobs resume ID` finishes the job without
    paying for it again.
    """
    drop_unsupported = request_args.pop("drop_unsupported")
    request = request_from(**request_args)
    if output:
        output_target(output, force=force)
    client = client_from(ctx)
    provider = provider_or_default(provider, client.default_provider)
    local_id: list[str] = []

    def submitted(handle: JobHandle) -> None:
        local_id.append(handle.local_id or "")
        announce_local(handle)

    with progress(enabled=not as_json) as show, resumable(lambda: next(iter(local_id), None)):
        result = client.run(
            provider, request, output, timeout=timeout, on_progress=show.poll,
            on_submitted=submitted, drop_unsupported=drop_unsupported, on_route=show_route,
        )
        show.done()
    if as_json:
        emit_json({"local_id": local_id[0], "result": result, "output": output})
        return
    click.echo(describe(result))
    notice = None if output else expiry_notice(result, local_id[0])
    if output:
        click.echo(f"saved: {output}")
    elif notice:
        click.echo(notice, err=True)


@cli.group()
def jobs() -> None:
    """The job ledger: list, show, wait for, download, resume, reconcile, account for."""


def _since(value: str | None) -> dt.datetime | None:
    """``--since``: an ISO date or time, or a span back from now such as 2h or 7d."""
    if value is None:
        return None
    spans = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    number, unit = value[:-1], value[-1:]
    if unit in spans and number.isdigit():
        return dt.datetime.now(dt.timezone.utc) - dt.timedelta(**{spans[unit]: int(number)})
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time; allowed: an ISO date or time (2026-12-01, "
            "2026-12-01T10:00) or a span back from now (30m, 2h, 7d, 1w)",
            param_hint="--since",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


@jobs.command("list")
@click.option("--provider", help="Only this provider's jobs.")
@click.option(
    "--state", "states", multiple=True, type=click.Choice([s.value for s in LocalState]),
    help="Only jobs in this state (repeatable).",
)
@click.option("--since", help="Only jobs created since: an ISO time, or 30m, 2h, 7d.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="At most this many, newest first; 0 for all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one job a line.")
@click.pass_context
def list_jobs(
    ctx: click.Context,
    provider: str | None,
    states: tuple[str, ...],
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List the ledger's jobs, newest first."""
    from lipbridge.ledger.queries import TEXT_HEADER

    lines = ledger_of(ctx).list_lines(
        "json" if as_json else "text",
        provider=provider,
        states=tuple(LocalState(s) for s in states),
        since=_since(since),
        limit=limit or None,
    )
    if not as_json:
        sys.stdout.write(TEXT_HEADER)
    sys.stdout.writelines(lines)


@jobs.command()
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, job: str, as_json: bool) -> None:
    """Show one JOB (a local id from the job ledger) in full, with its events."""
    ledger = ledger_of(ctx)
    record = ledger.get(job)
    events = ledger.events(record.local_id)
    if as_json:
        emit_json({"job": record, "events": events})
        return
    fields = [
        ("local id", record.local_id),
        ("provider", record.provider),
        ("model", record.model or "-"),
        ("state", record.state.value),
        ("provider job", record.provider_job_id or "-"),
        ("created", record.created_at.isoformat()),
        ("updated", record.updated_at.isoformat()),
        ("video", record.request.video),
        ("audio", record.request.audio or (record.request.tts and "text to speech") or "-"),
        ("estimate", _estimate_text(record.estimate)),
        ("output", record.output_path or "-"),
    ]
    if record.result is not None:
        fields.append(("result", record.result.video_url))
        if record.result.billed is not None:
            billed = record.result.billed
            usd = f" ({dollars(billed.usd)})" if billed.usd is not None else ""
            fields.append(("billed", f"{amount(billed.amount, billed.unit)}{usd}"))
    if record.output_sha256:
        fields.append(("file", f"{record.output_size} bytes, sha256 {record.output_sha256}"))
    if record.error_message:
        fields.append(("error", f"{record.error_class}: {record.error_message}"))
    for name, value in fields:
        click.echo(f"{name + ':':<14}{value}")
    if record.routes:
        click.echo("local files:")
        for route in record.routes:
            click.echo(f"  {route.describe()}")
    click.echo("events:")
    for event in events:
        pct = f" {event.progress:g}%" if event.progress is not None else ""
        word = f" ({event.raw_status})" if event.raw_status else ""
        error = f": {event.error}" if event.error else ""
        click.echo(f"  {event.at.isoformat()}  {event.kind.value:<10} {event.state.value}"
                   f"{word}{pct}{error}")


def _estimate_text(estimate: Any) -> str:
    if estimate is None:
        return "unknown"
    if estimate.amount is None:
        return f"unknown ({estimate.unknown_reason})"
    usd = f" ({dollars(estimate.usd)})" if estimate.usd is not None else ""
    return f"{amount(estimate.amount, estimate.unit)}{usd}"


@jobs.command("wait")
@click.argument("job")
@click.option("--timeout", type=float, callback=positive_seconds, default=1800.0,
              show_default=True, help="Seconds to wait before giving up.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def wait_job(ctx: click.Context, job: str, timeout: float, as_json: bool) -> None:
    """Wait for a ledger JOB to finish (without downloading; see `jobs resume`)."""
    jobs_ = jobs_of(client_from(ctx))
    record = jobs_.get(job)
    if record.handle is None:
        raise InvalidRequest(
            f"job {record.local_id} is {record.state.value}: nothing to wait for; "
            f"`lipbridge jobs resume {record.local_id}` settles it",
            field="job",
        )
    with progress(enabled=not as_json) as show, resumable(record.local_id):
        result = jobs_.wait(record.handle, timeout=timeout, on_progress=show.poll)
        show.done()
    if as_json:
        emit_json(result)
    else:
        click.echo(describe(result))


@jobs.command("download")
@click.argument("job")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@force_option
@click.pass_context
def download_job(ctx: click.Context, job: str, path: str | None, force: bool) -> None:
    """Download a finished ledger JOB's video, to PATH or where `run -o` asked.

    An expired result URL is refreshed by polling the job first, where the provider
    gives a new one.
    """
    if path:
        output_target(path, force=force)
    with resumable(None), progress() as show:
        saved = jobs_of(client_from(ctx)).download(job, path)
        show.done()
    click.echo(f"saved: {saved}")


@jobs.command()
@click.argument("job_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "all_", is_flag=True, help="Every unfinished job in the ledger.")
@click.option("--timeout", type=float, callback=positive_seconds, default=1800.0,
              show_default=True, help="Seconds to wait for each job.")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), default=4,
              show_default=True, help="Jobs driven at once.")
@click.pass_context
def resume(
    ctx: click.Context, job_ids: tuple[str, ...], all_: bool, timeout: float, concurrency: int
) -> None:
    """Take unfinished jobs (each ID a local id, or --all) to the end: reconcile, submit,
    wait, download.

    Nothing is paid for twice: a job whose submit outcome is unknown is found again
    (idempotency key or lookup) or left for `jobs reconcile`. Jobs another process is
    driving are left to it. The exit code is that of the worst outcome.
    """
    if bool(job_ids) == all_:
        raise click.UsageError("give job ids or --all (not both)")
    jobs_ = jobs_of(client_from(ctx))

    def line(job: Any, status: Any) -> None:
        pct = f" {status.progress:.0f}%" if status.progress is not None else ""
        words = f"{status.state.value} ({status.raw_status}){queue_text(status)}{pct}"
        click.echo(f"{job.local_id}  {words}", err=True)

    with resumable(None):
        if all_:
            outcomes = jobs_.resume_all(timeout=timeout, concurrency=concurrency, on_progress=line)
        else:
            outcomes = [jobs_.resume_outcome(ref, timeout=timeout) for ref in job_ids]
    worst = ExitCode.OK
    for outcome in outcomes:
        if outcome.error is not None:
            click.echo(f"{outcome.job.local_id}  {outcome.job.state.value}", err=False)
            report(outcome.error)
            worst = max(worst, exit_code_for(outcome.error))
        else:
            where = f" -> {outcome.job.output_path}" if outcome.job.output_path else ""
            click.echo(f"{outcome.job.local_id}  {outcome.job.state.value}{where}")
    if not outcomes:
        click.echo("nothing to resume", err=True)
    ctx.exit(int(worst))


@jobs.command()
@click.argument("job")
@click.option("--provider-job", help="The provider's job id that this submit created.")
@click.option("--not-submitted", is_flag=True,
              help="The submit never reached the provider: `jobs resume` submits it.")
@click.pass_context
def reconcile(ctx: click.Context, job: str, provider_job: str | None, not_submitted: bool) -> None:
    """Settle a ledger JOB whose submit outcome is unknown.

    Without options, lipbridge tries what it can do safely: the provider's idempotency
    key, then its job lookup. Otherwise say what happened: --provider-job (checked with
    a poll first) or --not-submitted.
    """
    record = jobs_of(client_from(ctx)).reconcile(
        job, provider_job=provider_job, not_submitted=not_submitted
    )
    found = f" as {record.provider} job {record.provider_job_id}" if record.provider_job_id else ""
    click.echo(f"{record.local_id}  {record.state.value}{found}")
    click.echo(f"continue with: lipbridge jobs resume {shlex.quote(record.local_id)}", err=True)


@jobs.command()
@click.option("--by", type=click.Choice(["provider", "model", "day"]), default="provider",
              show_default=True, help="Group the jobs by this.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def costs(ctx: click.Context, by: str, as_json: bool) -> None:
    """What the ledger's jobs cost: estimated beside billed, per unit.

    Only jobs the provider accepted, or may have (unknown), count. A job with no
    estimate or no reported bill is counted as unknown, never as 0.
    """
    from lipbridge.ledger.costs import cost_lines

    ledger = ledger_of(ctx)
    lines = cost_lines(ledger.cost_rows(), by)
    if as_json:
        emit_json(lines)
        return
    t = table(by, "jobs", "estimated", "billed")
    for line in lines:
        t.add_row(line.key, str(line.jobs), _sums(line.estimated, line.estimated_usd,
                  line.unknown_estimates, "unknown"),
                  _sums(line.billed, line.billed_usd, line.not_billed, "not reported"))
    print_table(t)


def _sums(per_unit: dict[str, Decimal], usd: Decimal, unknown: int, word: str) -> str:
    parts = [amount(value, unit) for unit, value in sorted(per_unit.items())]
    if usd and "USD" not in per_unit:
        parts.append(f"({dollars(usd)})")
    if unknown:
        parts.append(f"+ {unknown} {word}" if parts else f"{unknown} {word}")
    return " ".join(parts) or "-"
