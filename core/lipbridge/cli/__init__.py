"""The ``lipbridge`` command line.

Subcommands live in :mod:`.jobs` and :mod:`.info`, each imported when one of its commands
runs or the commands are listed; packages add more, each command an entry point in the
``lipbridge.commands`` group, imported only when it is run or listed (see
:class:`.app.LipbridgeGroup`).
"""

from __future__ import annotations

import gc
import importlib
from typing import TYPE_CHECKING, Any

from lipbridge.cli.app import ExitCode, cli

if TYPE_CHECKING:
    from lipbridge.cli import info, jobs

__all__ = ["ExitCode", "cli", "info", "jobs", "main"]


def __getattr__(name: str) -> Any:
    if name in ("info", "jobs"):  # the command modules, imported on first use
        return importlib.import_module(f"lipbridge.cli.{name}")
    raise AttributeError(f"module 'lipbridge.cli' has no attribute {name!r}")


def main() -> None:
    """The ``lipbridge`` console script: runs one command, then the process ends.

    Python warnings (an option dropped, a deprecated extension) show as one plain
    ``warning: ...`` line: the script's choice, not the library's.
    """
    import warnings

    from lipbridge.cli.report import show_warning

    warnings.showwarning = show_warning
    try:
        cli(prog_name="lipbridge")
    finally:
        # Nothing runs after the command but exit handlers: spare the interpreter's
        # shutdown its collections over every object still alive (a tenth of a
        # ``lipbridge providers``). Whatever needed closing, the command has closed.
        gc.freeze()
