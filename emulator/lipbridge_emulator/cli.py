"""``lipbridge emulator``: run the provider stand-ins on this machine until Ctrl-C."""

from __future__ import annotations

import shlex
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lipbridge.context import env_var

if TYPE_CHECKING:
    from lipbridge_emulator.engine import Emulator


def exports(emu: Emulator) -> dict[str, str]:
    """Every variable lipbridge needs to use the running emulator for each provider it
    speaks: the base URL, the key it accepts, and the secret it signs callbacks with."""
    found: dict[str, str] = {}
    for name in sorted(emu.dialects):
        found[env_var(name, "BASE_URL")] = emu.base_url(name)
        found[env_var(name, "API_KEY")] = emu.key
        secret = getattr(emu.dialects[name], "webhook_secret", None)
        if isinstance(secret, str):
            found[env_var(name, "WEBHOOK_SECRET")] = secret
    return found


def export_lines(variables: dict[str, str]) -> list[str]:
    """``export NAME=value`` lines a POSIX shell can source (values quoted as needed)."""
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port (0: any free port).")
@click.option(
    "--faults", default="", metavar="SPEC", help="Faults to inject, e.g. 'poll:5xx=0.1,429=0.02@3'."
)
@click.option("--seed", default=0, show_default=True, help="Seed for the fault draws.")
@click.option("--key", default="lb-test-key", show_default=True, help="The API key it accepts.")
@click.option(
    "--job-seconds",
    type=float,
    default=None,
    help="Fixed job duration (default: 10 s + 3 s per output second).",
)
@click.option("--speed", type=float, default=1.0, show_default=True, help="Divides durations.")
@click.option(
    "--env",
    "env_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the exports to this file (mode 0600), for `. FILE` in another shell.",
)
@click.option(
    "--url-lifetime",
    type=float,
    default=None,
    help="Result URL lifetime in seconds (default: each provider's documented one).",
)
def emulator(
    host: str,
    port: int,
    faults: str,
    seed: int,
    key: str,
    job_seconds: float | None,
    speed: float,
    env_file: Path | None,
    url_lifetime: float | None,
) -> None:
    """Serve FoxAPI, AIHubMax, AI/ML API, JoggAI and sync.so look-alikes on one local
    port, and any provider whose plugin brings an emulator dialect.

    Jobs render real MP4s from your inputs (it does not move lips). Inputs must be
    uploaded to the emulator (POST /files?name=face.mp4, or the provider's own upload)
    or be data: URIs. It prints every variable to export to point lipbridge at it (base
    URLs, keys, callback secrets); ``--env FILE`` writes them to FILE too.
    """
    from lipbridge_emulator import samples
    from lipbridge_emulator.engine import Emulator
    from lipbridge_emulator.faults import FaultSpecError, parse
    from lipbridge_emulator.jobs import Timing

    if speed <= 0:
        raise click.BadParameter(f"{speed!r}; allowed: a number > 0", param_hint="--speed")
    try:
        spec = parse(faults)
        emu = Emulator(  # checks that scoped rules name providers it speaks
            host=host,
            port=port,
            key=key,
            faults=spec,
            seed=seed,
            timing=Timing(job_seconds=job_seconds, speed=speed),
            url_lifetime=url_lifetime,
        )
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    with emu:
        video = emu.upload(samples.sample_video(), "face.mp4")
        audio = emu.upload(samples.sample_speech(), "speech.wav")
        click.echo(f"lipbridge emulator on {emu.url} (API key {key!r}); Ctrl-C stops it")
        lines = export_lines(exports(emu))
        for line in lines:
            click.echo(f"  {line}")
        if env_file is not None:
            from lipbridge.keys import write_private

            write_private(env_file, "".join(f"{line}\n" for line in lines))
            click.echo(f"exports written to {env_file}: . {shlex.quote(str(env_file))}")
        click.echo(f"sample video: {video}\nsample speech: {audio}")
        click.echo(f"upload your own: curl --data-binary @face.mp4 '{emu.url}/files?name=face.mp4'")
        click.echo(f"ledger: {emu.url}/_emulator/ledger")
        if spec:
            click.echo(f"faults: {spec.text} (seed {seed})")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopped")


@click.command()
@click.option(
    "--provider",
    "providers",
    multiple=True,
    help="Provider(s) to run (default: every installed one the emulator speaks).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("lipbridge-demo"),
    show_default=True,
    help="Where the samples and outputs go.",
)
@click.option("--speed", type=float, default=4.0, show_default=True, help="Emulator speed factor.")
def demo(providers: tuple[str, ...], out: Path, speed: float) -> None:
    """Lip-sync the sample video to the sample speech through each provider, offline.

    Starts the emulator in this process, then for each provider: estimate, submit,
    wait, download, and measure the output.
    """
    from lipbridge_emulator.demo import run_demo

    if speed <= 0:
        raise click.BadParameter(f"{speed!r}; allowed: a number > 0", param_hint="--speed")
    outcomes = run_demo(list(providers), out, speed)
    sys.exit(1 if any(o.error for o in outcomes) else 0)
