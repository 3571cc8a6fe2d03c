"""``lipbridge contract record live|emulator``: the two ways to record, as two commands.

Each subcommand takes only its own options, so click itself refuses a live-only flag on
an emulator recording and the other way round. The old spelling, ``record PROVIDER``
with or without ``--emulator``, still works until lipbridge-contract 0.2 and says what
to type instead.
"""

from __future__ import annotations

import shlex
from decimal import Decimal
from pathlib import Path

import click

from lipbridge import Client
from lipbridge_contract.cli import cassettes_option
from lipbridge_contract.locate import given_or_shipped
from lipbridge_contract.record.emulated import DEFAULT_OUT, record_from_emulator
from lipbridge_contract.record.live import record_scenarios

scenarios_option = click.option(
    "--scenario", "names", multiple=True, required=True, help="Repeat for several."
)


def _modern(ctx: click.Context, args: list[str]) -> list[str]:
    """The subcommand spelling of the deprecated ``record PROVIDER [--emulator] ...``."""
    sub = "emulator" if "--emulator" in args else "live"
    modern = [sub, *(a for a in args if a != "--emulator")]
    old = f"{ctx.command_path} PROVIDER{' --emulator' if sub == 'emulator' else ''}"
    click.echo(
        f"`{old}` is deprecated and goes in lipbridge-contract 0.2; type instead:\n"
        f"  {ctx.command_path} {shlex.join(modern)}",
        err=True,
    )
    return modern


class _Record(click.Group):
    """A group whose first argument may still be the provider (the old spelling)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            args = _modern(ctx, args)
        return super().resolve_command(ctx, args)


@click.group(
    "record",
    cls=_Record,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
def record() -> None:
    """Re-record scenarios from their sidecars: live (spends real money) or from the emulator.

    \b
    lipbridge contract record live PROVIDER --scenario NAME ... --allow-spend USD
    lipbridge contract record emulator PROVIDER --scenario NAME ...
    """


@record.command("live")
@click.argument("provider")
@scenarios_option
@click.option(
    "--allow-spend",
    type=Decimal,
    required=True,
    help="USD the submits may cost, by the plugin's own estimate.",
)
@cassettes_option
@click.option("--allow-ci", is_flag=True, help="Record even when CI=true.")
@click.option(
    "--allow-unpriced",
    is_flag=True,
    help="Also record submits the plugin cannot price in USD (not counted in the cap).",
)
def live(
    provider: str,
    names: tuple[str, ...],
    allow_spend: Decimal,
    root: Path | None,
    allow_ci: bool,
    allow_unpriced: bool,
) -> None:
    """Re-record PROVIDER's scenarios against the live API, with the real key: spends real
    money."""
    with Client() as client:
        written = record_scenarios(
            client, provider, given_or_shipped(root, provider), names, allow_spend,
            allow_ci=allow_ci, allow_unpriced=allow_unpriced,
        )
    for path in written:
        click.echo(f"wrote {path} and its sidecar")


@record.command("emulator")
@click.argument("provider")
@scenarios_option
@cassettes_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Where the recordings go.",
)
@click.option("--replace", is_flag=True, help="Overwrite documentation or live cassettes in --out.")
@click.option("--seed", type=int, default=0, show_default=True, help="The emulator's seed.")
def emulator(
    provider: str, names: tuple[str, ...], root: Path | None, out: Path, replace: bool, seed: int
) -> None:
    """Record PROVIDER's scenarios from an in-process emulator: provenance emulator, no key,
    no spend."""
    root = given_or_shipped(root, provider)
    record_from_emulator(provider, root, out, names, replace=replace, seed=seed)
