"""``lipbridge contract``: certify installed providers; ``lipbridge contract record``."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

STRICTNESS = click.Choice(["low", "high"])
cassettes_option = click.option(
    "--cassettes",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory holding <provider>/<scenario>.yaml. Default: the cassettes the plugin "
    "ships (<its package>/cassettes/), else ./cassettes.",
)


# Subcommands whose modules are heavy (vcrpy, YAML, an HTTP server): imported when used.
LAZY = {"record": "lipbridge_contract.record", "serve": "lipbridge_contract.serve"}


class DefaultRun(click.Group):
    """``lipbridge contract a b`` means ``lipbridge contract run a b``; ``record`` and
    ``serve`` are imported only when they run or ``--help`` lists them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY and name not in self.commands:
            command = getattr(importlib.import_module(LAZY[name]), name)
            self.add_command(command)
        return self.commands.get(name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and (args[0] in self.commands or args[0] in LAZY):
            return super().resolve_command(ctx, args)
        return "run", self.commands["run"], args


@click.group(
    cls=DefaultRun,
    invoke_without_command=True,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.pass_context
def contract(ctx: click.Context) -> None:
    """Certify provider plugins against recorded cassettes.

    \b
    lipbridge contract [PROVIDER ...] [--cassettes DIR] [--strictness low|high] [--json]
    lipbridge contract record live PROVIDER --scenario NAME ... --allow-spend USD
    lipbridge contract record emulator PROVIDER --scenario NAME ... [--out DIR]
    lipbridge contract serve PROVIDER SCENARIO [--port N]

    Each provider's cassettes are the ones its plugin ships (<package>/cassettes/PROVIDER/),
    read from any directory; else ./cassettes/PROVIDER/; --cassettes DIR overrides both.

    Exit status: 0 every check passed, 1 a check failed, 2 bad arguments.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(run_command)


@contract.command("run")
@click.argument("providers", nargs=-1)
@cassettes_option
@click.option(
    "--strictness",
    type=STRICTNESS,
    default="high",
    show_default=True,
    help="high: a missing scenario fails its check (certify at high); low skips it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def run_command(
    providers: tuple[str, ...], root: Path | None, strictness: str, as_json: bool
) -> None:
    """Run every check for each of PROVIDERS, or for every installed provider."""
    from rich.console import Console

    from lipbridge import Registry
    from lipbridge.registry import discover
    from lipbridge_contract.report import certify, render
    from lipbridge_contract.run import SuiteRun

    registry = Registry(discover())
    names = list(providers) or registry.names()
    if not names:
        raise click.UsageError("no provider plugins are installed")
    unknown = [n for n in names if n not in registry.names()]
    if unknown:
        raise click.UsageError(
            f"not installed: {', '.join(unknown)}; installed: {', '.join(registry.names())}"
        )
    reports = [certify(SuiteRun(n, root, strictness, registry=registry)) for n in names]
    if as_json:
        click.echo(
            json.dumps(
                {"strictness": strictness, "providers": [r.as_dict() for r in reports]}, indent=2
            )
        )
    else:
        render(reports, Console(highlight=False, soft_wrap=True))
    sys.exit(0 if all(r.ok for r in reports) else 1)
