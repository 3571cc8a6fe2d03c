"""Job commands: submit, status, wait, cancel, download."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

from lipbridge.cli.app import cli, client_from
from lipbridge.cli.options import (
    force_option,
    output_target,
    provider_argument,
    provider_or_default,
    request_from,
    with_request_options,
    with_wait_options,
)
from lipbridge.cli.render import amount, dollars, emit_json, progress, queue_text
from lipbridge.errors import InvalidRequest
from lipbridge.models import (
    JobHandle,
    JobResult,
    JobState,
)

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.ledger.records import MediaRoute


def handle_for(client: Client, provider: str, job_id: str, model: str | None) -> JobHandle:
    """The handle JOB_ID names: a bare job id, or a whole handle as printed.

    A handle (``submit --json``, ``follow it with:``, a timeout's ``resume with this
    handle:``) keeps the plugin's resume data, such as what the submit was billed, which
    a bare id cannot bring back.
    """
    if not job_id.strip():
        raise click.BadParameter("is empty; allowed: a job id or a job handle", param_hint="JOB_ID")
    if not job_id.lstrip().startswith("{"):
        return JobHandle(
            provider=provider, job_id=job_id, created_at=client.clock.now(), model=model
        )
    try:
        handle = JobHandle.from_json(job_id)
    except InvalidRequest as exc:
        raise click.BadParameter(
            f"is neither a job id nor a job handle: {exc.message}", param_hint="JOB_ID"
        ) from None
    if handle.provider != provider:
        raise click.BadParameter(
            f"is the handle of a job on {handle.provider}, not on {provider}", param_hint="JOB_ID"
        )
    if not handle.job_id.strip():
        raise click.BadParameter("is a handle with an empty job id", param_hint="JOB_ID")
    if model and handle.model and model != handle.model:
        raise click.BadParameter(
            f"does not match the handle's model {handle.model}", param_hint="--model"
        )
    return attrs.evolve(handle, model=handle.model or model)


def handle_from(
    client: Client, refs: tuple[str, ...], handle_file: str | None, model: str | None
) -> JobHandle:
    """The job the arguments name: ``LOCAL_ID``, ``PROVIDER JOB_ID`` (a bare id or a whole
    handle), or ``--handle FILE`` (``-`` for stdin) with a saved handle."""
    if handle_file is not None:
        if refs:
            raise click.UsageError("give --handle or job arguments, not both")
        text = click.open_file(handle_file).read()
        try:
            handle = JobHandle.from_json(text)
        except InvalidRequest as exc:
            raise click.BadParameter(
                f"{handle_file} holds no job handle: {exc.message}", param_hint="--handle"
            ) from None
        return handle_for(client, handle.provider, text, model)
    if len(refs) == 2:
        return handle_for(client, refs[0], refs[1], model)
    if len(refs) != 1:
        raise click.UsageError(
            "name the job as LOCAL_ID (from the job ledger), PROVIDER JOB_ID, or --handle FILE"
        )
    from lipbridge.cli.ledger import jobs_of

    record = jobs_of(client).get(refs[0])
    if record.handle is None:
        raise click.UsageError(
            f"job {record.local_id} is {record.state.value}: the provider never answered its "
            f"submit; settle it with `lipbridge jobs resume {record.local_id}`"
        )
    if model and record.handle.model and model != record.handle.model:
        raise click.BadParameter(
            f"does not match the job's model {record.handle.model}", param_hint="--model"
        )
    return record.handle


def announce(provider: str, handle: JobHandle, *, waiting: bool) -> None:
    """The job id as soon as the provider accepts it, and how to follow the job up.

    When waiting this goes to stderr first, so an interrupted wait never loses the job.
    Where the handle carries resume data (such as what was billed), the follow-up
    passes the whole handle, since a bare id would lose it.
    """
    click.echo(f"submitted {provider} job {handle.job_id}", err=waiting)
    if handle.resume or not waiting:
        click.echo(f"follow it with: {wait_command(handle, local=False)}", err=waiting)


def wait_command(handle: JobHandle, *, local: bool = True) -> str:
    """The command that follows the job: by its ledger id where it has one (``local``),
    else by provider and job id, or its whole handle where resume data would be lost."""
    return f"lipbridge wait {job_ref(handle, local=local)}"


def job_ref(handle: JobHandle, *, local: bool = True) -> str:
    """The job as the job commands take it (see :func:`wait_command`)."""
    if local and handle.local_id:
        return handle.local_id
    ref = handle.to_json() if handle.resume else handle.job_id
    return f"{handle.provider} {shlex.quote(ref)}"


def expiry_notice(result: JobResult, ref: str) -> str | None:
    """For a video that was not saved, the time its URL lapses and how to fetch it before:
    some providers remove outputs soon (Replicate an hour after the job ends)."""
    if result.expires_at is None:
        return None
    return (
        f"the provider keeps the video until {result.expires_at.isoformat()}: download "
        f"it before then with: lipbridge download {ref} PATH"
    )


def show_route(route: MediaRoute) -> None:
    """How a local file goes to the provider, one line on stderr, before the submit."""
    click.echo(route.describe(), err=True)


def describe(result: JobResult) -> str:
    lines = [f"video: {result.video_url}"]
    if result.cover_url is not None:
        lines.append(f"cover: {result.cover_url}")
    if result.duration_seconds is not None:
        lines.append(f"duration: {result.duration_seconds:g} s")
    if result.expires_at is not None:
        lines.append(f"url expires: {result.expires_at.isoformat()}")
    if result.billed is not None:
        usd = f" ({dollars(result.billed.usd)})" if result.billed.usd is not None else ""
        lines.append(f"billed: {amount(result.billed.amount, result.billed.unit)}{usd}")
    return "\n".join(lines)


def wait_and_fetch(
    client: Client,
    handle: JobHandle,
    *,
    timeout: float,
    output: str | None,
    cancel_on_timeout: bool,
    as_json: bool,
) -> None:
    with progress(enabled=not as_json) as show:
        result = client.wait(
            handle, timeout=timeout, on_progress=show.poll, cancel_on_timeout=cancel_on_timeout
        )
        path = None
        if output:
            show.step(f"downloading to {output}")
            path = client.download(result, output)
        show.done()
    if as_json:
        emit_json({"handle": handle, "result": result, "output": str(path) if path else None})
        return
    click.echo(describe(result))
    notice = None if path else expiry_notice(result, job_ref(handle))
    if path:
        click.echo(f"saved: {path}")
    elif notice:
        click.echo(notice, err=True)


@cli.command()
@provider_argument
@with_request_options
@click.option("--wait", "wait_", is_flag=True, help="Wait for the result.")
@with_wait_options
@click.pass_context
def submit(
    ctx: click.Context,
    /,
    provider: str | None,
    drop_unsupported: bool,
    wait_: bool,
    timeout: float,
    cancel_on_timeout: bool,
    output: str | None,
    force: bool,
    as_json: bool,
    **request_args: Any,
) -> None:
    """Submit a lip-sync job to PROVIDER (default: the config file's default_provider), and
    with --wait or --output, wait for it.

    The job is recorded in the job ledger first; `lipbridge run` is the same with the
    download recorded too, and resumable as one job.
    """
    request = request_from(**request_args)
    if output:
        output_target(output, force=force)  # before the submit: paid for from then on
    client = client_from(ctx)
    provider = provider_or_default(provider, client.default_provider)
    handle = client.submit(
        provider, request, drop_unsupported=drop_unsupported, on_route=show_route
    )
    waiting = bool(wait_ or output)
    if as_json and not waiting:
        emit_json(handle)
        return
    announce(provider, handle, waiting=waiting)
    if not waiting:
        return
    wait_and_fetch(
        client,
        handle,
        timeout=timeout,
        output=output,
        cancel_on_timeout=cancel_on_timeout,
        as_json=as_json,
    )


def job_arguments(metavar: str = "LOCAL_ID | PROVIDER JOB_ID") -> list[Any]:
    return [
        click.argument("refs", nargs=-1, metavar=metavar),
        click.option(
            "--handle",
            "handle_file",
            metavar="FILE",
            help="Read the job's handle (as `submit --json` prints it) from FILE, or - for stdin.",
        ),
        click.option("--model", help="The job's model, where it matters."),
    ]


def with_job_arguments(f: Any, metavar: str = "LOCAL_ID | PROVIDER JOB_ID") -> Any:
    for decorator in reversed(job_arguments(metavar)):
        f = decorator(f)
    return f


def with_job_arguments_and_path(f: Any) -> Any:
    return with_job_arguments(f, "(LOCAL_ID | PROVIDER JOB_ID) PATH")


@cli.command()
@with_job_arguments
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(
    ctx: click.Context,
    refs: tuple[str, ...],
    handle_file: str | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Show a job's current status.

    The job is LOCAL_ID (its id in the job ledger), PROVIDER JOB_ID, or --handle FILE.
    """
    client = client_from(ctx)
    current = client.poll(handle_from(client, refs, handle_file, model))
    if as_json:
        emit_json(current)
        return
    pct = f" {current.progress:g}%" if current.progress is not None else ""
    click.echo(f"{current.state.value} ({current.raw_status}){queue_text(current)}{pct}")
    for line in current.logs:
        click.echo(f"  log: {line}")
    if current.result:
        click.echo(describe(current.result))
    if current.error:
        click.echo(
            f"error: {current.error.message}"
            + (f" [{current.error.code}]" if current.error.code else "")
        )


@cli.command()
@with_job_arguments
@with_wait_options
@click.pass_context
def wait(
    ctx: click.Context,
    refs: tuple[str, ...],
    handle_file: str | None,
    model: str | None,
    timeout: float,
    cancel_on_timeout: bool,
    output: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Wait for a job to finish, showing progress; optionally download the video.

    The job is LOCAL_ID (its id in the job ledger), PROVIDER JOB_ID, or --handle FILE.
    """
    from lipbridge.cli.ledger import resumable

    if output:
        output_target(output, force=force)
    client = client_from(ctx)
    handle = handle_from(client, refs, handle_file, model)
    with resumable(handle.local_id):
        wait_and_fetch(
            client,
            handle,
            timeout=timeout,
            output=output,
            cancel_on_timeout=cancel_on_timeout,
            as_json=as_json,
        )


@cli.command()
@with_job_arguments
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def cancel(
    ctx: click.Context,
    refs: tuple[str, ...],
    handle_file: str | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Cancel a job, where the provider supports it.

    The job is LOCAL_ID (its id in the job ledger), PROVIDER JOB_ID, or --handle FILE.
    """
    client = client_from(ctx)
    handle = handle_from(client, refs, handle_file, model)
    after = client.cancel(handle)
    if as_json:
        emit_json(after)
        return
    click.echo(f"{after.state.value} ({after.raw_status})")
    if after.state is JobState.CANCELLING:
        click.echo(
            "the provider accepted the cancel and confirms it later; the job may still "
            f"finish (and be billed): follow it with: {wait_command(handle)}",
            err=True,
        )


@cli.command()
@with_job_arguments_and_path
@force_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def download(
    ctx: click.Context,
    refs: tuple[str, ...],
    handle_file: str | None,
    model: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Download a finished job's video to PATH, the last argument (atomically).

    The job is LOCAL_ID (its id in the job ledger), PROVIDER JOB_ID, or --handle FILE.
    A job still running has no video yet: `lipbridge wait JOB --output PATH` waits for it.
    """
    from lipbridge.client import result_of  # the client's module, imported by client_from

    if not refs:
        raise click.UsageError("give PATH, the file to save the video to")
    *refs_, path = refs
    output_target(path, force=force)
    client = client_from(ctx)
    handle = handle_from(client, tuple(refs_), handle_file, model)
    current = client.poll(handle)
    if not current.state.terminal:
        raise InvalidRequest(
            f"job {handle.job_id} is {current.state.value} ({current.raw_status}); it has no "
            "video yet",
            field="job_id",
            hint=(f"wait for it and save it with: {wait_command(handle)} --output "
                  f"{shlex.quote(path)}",),
        )
    result = result_of(handle, current)
    with progress(enabled=not as_json) as show:
        saved = client.download(result, path)
        show.done()
    if as_json:
        emit_json({"output": str(Path(saved)), "result": result})
    else:
        click.echo(f"saved: {saved}")
