"""The ``lipbridge`` command line.

Subcommands live in :mod:`.jobs` and :mod:`.info`; packages add more, each command an
entry point in the ``lipbridge.commands`` group, imported only when it is run or listed
(see :class:`.app.LipbridgeGroup`).
"""

from __future__ import annotations

from lipbridge.cli import info, jobs
from lipbridge.cli.app import ExitCode, cli

__all__ = ["ExitCode", "cli", "info", "jobs", "main"]


def main() -> None:
    cli(prog_name="lipbridge")
