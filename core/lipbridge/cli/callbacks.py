"""``lipbridge callbacks serve``: take providers' callbacks and record them in the job
ledger, so that waiting processes (``wait``, ``run``, ``jobs resume``, ``batch``) stop
polling the jobs they concern; or hand them on (``--signal``) to an engine that runs jobs
elsewhere, registered in the ``lipbridge.callback_forwarders`` entry points."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING

import click

from lipbridge.cli.app import ExitCode, cli, client_from
from lipbridge.cli.ledger import jobs_of

if TYPE_CHECKING:
    from lipbridge.callbacks import CallbackUpdate
    from lipbridge.client import Client

FORWARDERS = "lipbridge.callback_forwarders"
# An entry point's object: called with the client, it returns what hands on one callback.
Forward = Callable[[str, "CallbackUpdate"], str]


def _forwarders(names: tuple[str, ...], client: Client) -> list[Forward]:
    found = {ep.name: ep for ep in metadata.entry_points(group=FORWARDERS)}
    missing = [name for name in names if name not in found]
    if missing:
        raise click.BadParameter(
            f"{', '.join(missing)}: no such engine installed; installed: "
            f"{', '.join(sorted(found)) or 'none (lipbridge-temporal adds temporal)'}",
            param_hint="--signal",
        )
    return [found[name].load()(client) for name in names]


@cli.group()
def callbacks() -> None:
    """Receive providers' callbacks (webhooks): see docs/callbacks.md."""


@callbacks.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for the internet).")
@click.option("--port", default=8787, show_default=True, help="Port (0: any free port).")
@click.option("--signal", "engines", multiple=True, metavar="ENGINE",
              help="Also hand each callback to ENGINE's job (repeatable; e.g. temporal).")
@click.option("--no-record", is_flag=True, help="With --signal: do not write the ledger.")
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, engines: tuple[str, ...], no_record: bool
) -> None:
    """Verify each POST /<provider> and record it in the job ledger, until Ctrl-C.

    Give providers https://<your host>/<provider> as the callback URL (`--callback-url`).
    Signed callbacks need LIPBRIDGE_<PROVIDER>_WEBHOOK_SECRET; unsigned ones are refused
    unless LIPBRIDGE_<PROVIDER>_UNSIGNED_CALLBACKS=accept.
    """
    from lipbridge.receiver import CallbackReceiver

    client = client_from(ctx)
    if no_record and not engines:
        raise click.UsageError("--no-record needs --signal: a callback must go somewhere")
    jobs = None if no_record else jobs_of(client)
    forwards = _forwarders(engines, client)

    def handle(provider: str, headers: Mapping[str, str], body: bytes) -> str:
        update = client.parse_callback(provider, headers, body)
        said = [jobs.record_callback(provider, update)] if jobs is not None else []
        return "; ".join(said + [forward(provider, update) for forward in forwards])

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with CallbackReceiver(handle, host=host, port=port) as receiver:
        click.echo(f"taking callbacks at {receiver.url}/<provider>; Ctrl-C stops", err=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the normal way to stop
            stop.wait()
    ctx.exit(ExitCode.OK)
