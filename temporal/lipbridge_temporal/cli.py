"""``lipbridge worker``: run a Temporal worker for lipbridge's jobs (docs/scale.md).

Registered in the ``lipbridge.commands`` entry points, so the core CLI carries no
Temporal code and ``lipbridge --help`` imports this only when listing."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lipbridge.cli.app import client_from
from lipbridge.client import Client
from lipbridge.errors import LipbridgeError

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(command: F) -> F:
    """--temporal, --namespace, TLS and the API key file (each also LIPBRIDGE_TEMPORAL_*)."""
    options = [
        click.option(
            "--temporal",
            "address",
            metavar="HOST:PORT",
            help="The Temporal frontend [LIPBRIDGE_TEMPORAL_ADDRESS].",
        ),
        click.option("--namespace", help="Namespace [LIPBRIDGE_TEMPORAL_NAMESPACE; default]."),
        click.option(
            "--tls-cert",
            type=click.Path(dir_okay=False),
            help="mTLS client certificate [LIPBRIDGE_TEMPORAL_TLS_CERT].",
        ),
        click.option(
            "--tls-key",
            type=click.Path(dir_okay=False),
            help="Its private key [LIPBRIDGE_TEMPORAL_TLS_KEY].",
        ),
        click.option(
            "--tls-ca",
            type=click.Path(dir_okay=False),
            help="A private CA for the server [LIPBRIDGE_TEMPORAL_TLS_CA].",
        ),
        click.option(
            "--api-key-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Temporal Cloud API key, read from this file [LIPBRIDGE_TEMPORAL_API_KEY].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def config_from(opts: dict[str, Any]) -> Any:
    from lipbridge_temporal.config import TemporalConfig

    key_file: Path | None = opts.pop("api_key_file", None)
    return TemporalConfig.resolve(
        address=opts.pop("address", None),
        namespace=opts.pop("namespace", None),
        tls_cert=opts.pop("tls_cert", None),
        tls_key=opts.pop("tls_key", None),
        tls_ca=opts.pop("tls_ca", None),
        api_key=key_file.read_text().strip() if key_file is not None else None,
    )


def providers_of(client: Client, given: str | None) -> list[str]:
    """The providers this worker serves: those named (each must be installed and have a
    key here), else every installed one with a key here. A worker without a provider's
    key must not take its steps: they would fail on it instead of running elsewhere."""
    names = client.registry.names()
    named = [p.strip() for p in (given or "").split(",") if p.strip()]
    unknown = sorted(set(named) - set(names))
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)} not installed; installed: {', '.join(names)}",
            param_hint="--providers",
        )
    served = []
    for name in named or names:
        try:
            client.context(name, client.info(name)).credentials.require()
        except LipbridgeError as exc:
            if named:
                raise
            click.echo(f"not serving {name}: {exc.message}", err=True)
            continue
        served.append(name)
    if not served:
        raise click.UsageError("no provider has a key here: nothing to serve")
    return served


@click.command()
@connection_options
@click.option(
    "--providers",
    help="a,b,c: the providers whose steps this worker runs (default: every installed one).",
)
@click.option(
    "--submits-per-second",
    type=click.FloatRange(min=0, min_open=True),
    envvar="LIPBRIDGE_TEMPORAL_SUBMITS_PER_SECOND",
    help="Server-side limit on submits to each provider, for all workers at once "
    "[LIPBRIDGE_TEMPORAL_SUBMITS_PER_SECOND].",
)
@click.option(
    "--max-activities",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Steps (submits, polls, downloads) this worker runs at once.",
)
@click.option(
    "--handover",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds before another worker takes up this one's workflows if it dies.",
)
@click.pass_context
def worker(ctx: click.Context, /, **opts: Any) -> None:
    """Run lipbridge jobs from a Temporal cluster until Ctrl-C (or SIGTERM).

    It serves the providers of --providers, else every installed one with a key here.
    Provider keys, base URLs, webhook secrets and the job ledger come from this worker's
    environment, as for any local command; they never enter a workflow's history.
    """
    from lipbridge_temporal.worker import serve

    config = config_from(opts)
    client = client_from(ctx)
    wanted = providers_of(client, opts["providers"])

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        temporal = await config.connect()
        await serve(
            client,
            temporal,
            wanted,
            stop=stop,
            submits_per_second=opts["submits_per_second"],
            max_activities=opts["max_activities"],
            handover=opts["handover"],
            ready=lambda: click.echo(
                f"worker ready on {config.address} ({config.namespace}): "
                f"{', '.join(wanted)}; Ctrl-C stops",
                err=True,
            ),
        )

    asyncio.run(main())
