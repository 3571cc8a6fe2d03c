"""The ``lipbridge`` command group: error reporting, exit codes, the client, extensions.

Extension commands are found by name in the ``lipbridge.commands`` entry points and
imported only when one is run or ``--help`` lists them, so ``lipbridge providers`` does
not pay for the contract suite or the emulator. The client (and with it the HTTP stack,
urllib3 included) is imported when a command first asks for it; ``providers`` only needs
the registry, and ``--help`` neither.

Errors are reported by :mod:`.report` (redacted); every ``--debug`` log line goes through
:mod:`lipbridge.redact`, so no key and no signed URL's credentials reach the terminal.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

import click

from lipbridge.cli.report import (
    ExitCode,
    exit_code_for,
    exit_code_table,
    report,
    show,
    usage_problem,
)
from lipbridge.errors import LipbridgeError
from lipbridge.markers import COMMAND_GROUP, EXTENSION_GROUP
from lipbridge.redact import RedactingFilter

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.registry import PluginRecord

__all__ = ["ExitCode", "cli", "exit_code_for", "report"]

# ctx.meta keys (meta is shared by every context of one invocation): the arguments the
# command line gave, whether a --json flag was given (so errors are JSON too), and the
# command that ran (a hint names only options it has).
ARGS = "lipbridge.args"
JSON_ERRORS = "lipbridge.json"
RUNNING = "lipbridge.command"


def wants_json(ctx: click.Context, *, parsed: bool = True) -> bool:
    """Whether this invocation asked for JSON: a ``--json`` flag seen by its command, or,
    for an error raised while the arguments were still being read, one among them."""
    if ctx.meta.get(JSON_ERRORS):
        return True
    if parsed:
        return False
    args = list(ctx.meta.get(ARGS, ()))
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


def watch(command: click.Command) -> None:
    """Make ``command`` (and its subcommands) tell the error report what it needs: each
    ``--json`` flag, when given, that errors are JSON too; each command, when it runs, that
    it is the one. One place for every command, extensions' included."""
    for param in command.params:
        noted = getattr(param.callback, "watched", False)
        if isinstance(param, click.Option) and "--json" in param.opts and not noted:
            param.callback = _noting_json(param.callback)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            watch(sub)
    elif command.callback is not None and not getattr(command.callback, "watched", False):
        command.callback = _noting_command(command, command.callback)


def _noting_json(callback: Callable[..., Any] | None) -> Callable[..., Any]:
    def noted(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value:
            ctx.meta[JSON_ERRORS] = True
        return callback(ctx, param, value) if callback is not None else value

    noted.watched = True  # type: ignore[attr-defined]
    return noted


def _noting_command(command: click.Command, callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def noted(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().meta[RUNNING] = command
        return callback(*args, **kwargs)

    noted.watched = True  # type: ignore[attr-defined]
    return noted


def options_of(ctx: click.Context) -> frozenset[str] | None:
    """The options of the command that ran (None: not known, as for an error before it ran)."""
    command: click.Command | None = ctx.meta.get(RUNNING)
    if command is None:
        return None
    return frozenset(opt for param in command.params for opt in getattr(param, "opts", ()))


# The modules defining lipbridge's own commands, by command name: a command's module is
# imported when it runs (``providers`` does not compile the job commands), all of them
# when the commands are listed.
BUILTIN_COMMANDS = {
    **dict.fromkeys(("providers", "estimate"), "lipbridge.cli.info"),
    **dict.fromkeys(("submit", "status", "wait", "cancel", "download"), "lipbridge.cli.jobs"),
    **dict.fromkeys(("run", "jobs"), "lipbridge.cli.ledger"),
    "batch": "lipbridge.cli.batch",
    "callbacks": "lipbridge.cli.callbacks",
    "keys": "lipbridge.cli.keys",
    "config": "lipbridge.cli.config",
}


# Commands the project's other distributions add, so a missing one says what to install.
EXTRA_COMMANDS = {
    "contract": "lipbridge-contract",
    "demo": "lipbridge-emulator",
    "emulator": "lipbridge-emulator",
    "worker": "lipbridge-temporal",
}


class LipbridgeGroup(click.Group):
    """Turns lipbridge errors into one stderr line and an exit code; finds extensions' commands.

    ``modules`` maps command names to the modules that add them to this group, imported
    when one of their commands runs or the commands are listed. A name found neither
    there nor among the group's commands is looked up in the ``lipbridge.commands``
    entry points and only that command is imported; extensions using the deprecated
    ``lipbridge_add_commands`` hook are imported when a name is found nowhere else, or
    when the commands are listed.
    """

    def __init__(
        self, *args: Any, modules: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._modules = dict(modules or {})
        self._entry_points: metadata.EntryPoints | None = None
        self._hooks_called = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta.setdefault(ARGS, tuple(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Every error of every command ends here: one line (or one JSON object under
        ``--json``) on stderr, and its exit code."""
        try:
            return super().invoke(ctx)
        except LipbridgeError as error:
            if ctx.find_root().params.get("debug"):
                raise
            report(error, as_json=wants_json(ctx), options=options_of(ctx))
            ctx.exit(exit_code_for(error))
        except click.ClickException as error:
            if not wants_json(ctx, parsed=False):
                raise
            found = usage_problem(error)
            show(found, as_json=True)
            ctx.exit(found.code)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self._modules.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(module)
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._import_modules()  # a command its module adds without naming it here
            command = super().get_command(ctx, cmd_name)
        if command is None:
            command = self._load_command(cmd_name)
        if command is None:
            self._call_add_commands()
            command = super().get_command(ctx, cmd_name)
        if command is not None:
            watch(command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Click's, but a project command whose distribution is not installed names it."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            dist = EXTRA_COMMANDS.get(args[0]) if args else None
            if dist is None or self._points().select(group=COMMAND_GROUP, name=args[0]):
                raise  # unknown, or installed but broken (its warning says why)
            folder = dist.removeprefix("lipbridge-")
            raise click.UsageError(
                f"{args[0]!r} is a command of {dist}, which is not installed; install it: "
                f"pip install ./{folder} (from a clone), or pip install --find-links dist {dist}",
                ctx,
            ) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._import_modules()
        for ep in self._points().select(group=COMMAND_GROUP):
            if ep.name not in self.commands:
                self._load_command(ep.name)
        self._call_add_commands()
        return super().list_commands(ctx)

    def _import_modules(self) -> None:
        for module in sorted(set(self._modules.values())):
            importlib.import_module(module)

    def _points(self) -> metadata.EntryPoints:
        """Both extension groups' entry points, read once: one pass over the installed files."""
        if self._entry_points is None:
            found = metadata.entry_points()
            self._entry_points = metadata.EntryPoints(
                [*found.select(group=COMMAND_GROUP), *found.select(group=EXTENSION_GROUP)]
            )
        return self._entry_points

    def _load_command(self, name: str) -> click.Command | None:
        """The command the ``lipbridge.commands`` entry point ``name`` names; a broken one warns."""
        points = self._points().select(group=COMMAND_GROUP, name=name)
        for ep in points:
            try:
                command = ep.load()
                if not isinstance(command, click.Command):
                    what = type(command).__name__
                    raise TypeError(f"{ep.value} is a {what}, not a click command")
            except Exception as exc:
                warn(f"command {name!r} not loaded: {type(exc).__name__}: {exc}")
                return None
            self.add_command(command, name)
            return command
        return None

    def _call_add_commands(self) -> None:
        if not self._hooks_called:
            self._hooks_called = True
            for problem in add_extensions(self, self._points().select(group=EXTENSION_GROUP)):
                warn(problem)


def warn(problem: str) -> None:
    click.echo(f"warning: {problem}", err=True)


EPILOG = f"""Keys: a provider's API key comes from LIPBRIDGE_<PROVIDER>_API_KEY (the name
upper-cased, anything but letters and digits as _: LIPBRIDGE_SYNCSO_API_KEY), else from
the variable the provider documents (SYNC_API_KEY for sync.so; lipbridge providers NAME
names it), else from your keys file: lipbridge keys set PROVIDER. The environment wins;
lipbridge keys list shows where each key comes from.

\b
Exit codes:
{exit_code_table()}
"""


@click.group(cls=LipbridgeGroup, modules=BUILTIN_COMMANDS, epilog=EPILOG)
@click.version_option(package_name="lipbridge")
@click.option("--debug", is_flag=True, help="Log HTTP traffic and show tracebacks.")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False),
    help="The job ledger file (default: LIPBRIDGE_LEDGER, else one in your data folder).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, ledger: str | None) -> None:
    """One interface to hosted lip-sync APIs."""
    if debug:
        log_to_stderr(ctx)
    if ctx.obj is None:
        ctx.obj = functools.partial(default_client, ledger) if ledger else default_client


def log_to_stderr(ctx: click.Context) -> None:
    """``--debug``: every log record at DEBUG and above on stderr, redacted, for this command.

    The handler's own filter redacts records of any logger (a plugin's too), on top of the
    redaction lipbridge's and urllib3's records get when they are created.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(level)

    ctx.call_on_close(restore)


def default_client(ledger: str | None = None) -> Client:
    """A client with everything from the environment: the factory unless ``obj`` gives one."""
    from lipbridge.client import Client

    return Client(ledger=ledger)


def client_from(ctx: click.Context) -> Client:
    """The client for this invocation (tests pass a factory as ``obj``)."""
    factory: Callable[[], Client] = ctx.find_root().obj
    client = factory()
    ctx.call_on_close(client.close)
    return client


def provider_records(ctx: click.Context) -> list[PluginRecord]:
    """What ``Client.providers`` returns for this invocation's client.

    With the default factory that is a registry of the installed plugins read from the
    environment, exactly what ``Client()`` would build and ask; it is built alone, since
    a client also brings the HTTP stack, which listing never uses (and whose import would
    be half of ``lipbridge providers``'s time). A factory given as ``obj`` is called.
    """
    if ctx.find_root().obj is default_client:
        from lipbridge.registry import Registry

        return Registry().records()
    return client_from(ctx).providers()


def add_extensions(
    group: click.Group, points: Iterable[metadata.EntryPoint] | None = None
) -> list[str]:
    """Let extensions add subcommands through the deprecated ``lipbridge_add_commands`` hook.

    ``points`` are the ``lipbridge.extensions`` entry points (default: the installed ones).
    A broken extension only gives a problem to warn about.
    """
    if points is None:
        points = metadata.entry_points(group=EXTENSION_GROUP)
    points = list(points)
    problems: list[str] = []
    if not points:  # nothing would register: spare the plugin manager (and pluggy's import)
        return problems
    from lipbridge.registry import make_plugin_manager

    pm = make_plugin_manager()
    for ep in points:
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            problems.append(f"extension {ep.name!r} not loaded: {type(exc).__name__}: {exc}")
            continue
        warnings.warn(
            f"extension {ep.name!r} adds commands through lipbridge_add_commands, which is "
            f"deprecated: declare each command in the {COMMAND_GROUP!r} entry-point group",
            DeprecationWarning,
            stacklevel=2,
        )
    try:
        pm.hook.lipbridge_add_commands(cli=group)
    except Exception as exc:
        problems.append(f"an extension failed to add its commands: {exc}")
    return problems
