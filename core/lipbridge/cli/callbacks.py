"""``lipbridge callbacks serve``: take providers' callbacks and record them in the job
ledger, so that waiting processes (``wait``, ``run``, ``jobs resume``, ``batch``) stop
polling the jobs they concern."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Mapping

import click

from lipbridge.cli.app import ExitCode, cli, client_from
from lipbridge.cli.ledger import jobs_of


@cli.group()
def callbacks() -> None:
    """Receive providers' callbacks (webhooks): see docs/callbacks.md."""


@callbacks.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for the internet).")
@click.option("--port", default=8787, show_default=True, help="Port (0: any free port).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Verify each POST /<provider> and record it in the job ledger, until Ctrl-C.

    Give providers https://<your host>/<provider> as the callback URL (`--callback-url`).
    Signed callbacks need LIPBRIDGE_<PROVIDER>_WEBHOOK_SECRET; unsigned ones are refused
    unless LIPBRIDGE_<PROVIDER>_UNSIGNED_CALLBACKS=accept.
    """
    from lipbridge.receiver import CallbackReceiver

    client = client_from(ctx)
    jobs = jobs_of(client)

    def handle(provider: str, headers: Mapping[str, str], body: bytes) -> str:
        return jobs.record_callback(provider, client.parse_callback(provider, headers, body))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with CallbackReceiver(handle, host=host, port=port) as receiver:
        click.echo(f"taking callbacks at {receiver.url}/<provider>; Ctrl-C stops", err=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the normal way to stop
            stop.wait()
    ctx.exit(ExitCode.OK)
