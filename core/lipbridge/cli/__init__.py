"""The ``lipbridge`` command line.

Subcommands live in :mod:`.jobs` and :mod:`.info`; packages in the
``lipbridge.extensions`` entry-point group add more through ``lipbridge_add_commands``.
"""

from __future__ import annotations

import click

from lipbridge.cli import info, jobs
from lipbridge.cli.app import ExitCode, add_extensions, cli

__all__ = ["ExitCode", "cli", "info", "jobs", "main"]


def main() -> None:
    for problem in add_extensions(cli):
        click.echo(f"warning: {problem}", err=True)
    cli(prog_name="lipbridge")
