"""The ``lipbridge`` command group: error reporting, exit codes, the client, extensions.

Everything :func:`report` prints and every ``--debug`` log line goes through
:mod:`lipbridge.redact`, so no key and no signed URL's credentials reach the terminal.
"""

from __future__ import annotations

import enum
import json
import logging
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

import click
import pluggy

from lipbridge import hookspecs
from lipbridge.client import Client
from lipbridge.errors import (
    ConfigurationError,
    DownloadFailed,
    InvalidRequest,
    JobFailed,
    LipbridgeError,
    OutputError,
    PluginLoadError,
    ProviderConflict,
    ProviderError,
    SubmitOutcomeUnknown,
    UnknownProvider,
    UnsupportedCapability,
    WaitTimeout,
)
from lipbridge.markers import EXTENSION_GROUP, PROJECT
from lipbridge.redact import RedactingFilter, redact_message, scrub, scrub_data


class ExitCode(enum.IntEnum):
    """Process exit codes; documented in docs/cli.md."""

    OK = 0
    ERROR = 1  # a bug or an unexpected failure
    USAGE = 2  # bad arguments, invalid request, unknown provider, unsupported operation
    CONFIGURATION = 3  # missing key, bad base URL, broken or conflicting plugin
    PROVIDER = 4  # the provider refused, failed or was unreachable; submit outcome unknown
    JOB_FAILED = 5  # the job itself failed or was cancelled
    TIMEOUT = 6  # --wait deadline passed; the job may still finish
    OUTPUT = 7  # the finished video could not be saved locally; fetch it again


def exit_code_for(error: LipbridgeError) -> ExitCode:
    if isinstance(error, JobFailed):
        return ExitCode.JOB_FAILED
    if isinstance(error, WaitTimeout):
        return ExitCode.TIMEOUT
    if isinstance(error, OutputError):
        return ExitCode.OUTPUT
    if isinstance(error, (ProviderError, DownloadFailed)):
        return ExitCode.PROVIDER
    if isinstance(error, (ConfigurationError, PluginLoadError, ProviderConflict)):
        return ExitCode.CONFIGURATION
    if isinstance(error, (InvalidRequest, UnknownProvider, UnsupportedCapability)):
        return ExitCode.USAGE
    return ExitCode.PROVIDER


def report(error: LipbridgeError) -> None:
    """The one line (plus what is needed to recover a job) a user sees for an error.

    Redacted here once more, whatever the error holds; the handle only has keys scrubbed,
    as masking a URL in it would make it useless for resuming.
    """
    click.echo(redact_message(f"error: {error}"), err=True)
    if isinstance(error, WaitTimeout):
        click.echo(scrub(f"resume with this handle: {error.handle.to_json()}"), err=True)
    if isinstance(error, SubmitOutcomeUnknown):
        details = json.dumps(scrub_data(error.details), sort_keys=True)
        click.echo(redact_message(f"details: {details}"), err=True)
    if isinstance(error, OutputError):
        click.echo(
            "the job's result is untouched; fetch it again with: "
            "lipbridge download PROVIDER JOB_ID PATH",
            err=True,
        )


class LipbridgeGroup(click.Group):
    """Turns lipbridge errors into one stderr line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LipbridgeError as error:
            if ctx.find_root().params.get("debug"):
                raise
            report(error)
            ctx.exit(exit_code_for(error))


@click.group(cls=LipbridgeGroup)
@click.version_option(package_name="lipbridge")
@click.option("--debug", is_flag=True, help="Log HTTP traffic and show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """One interface to hosted lip-sync APIs."""
    if debug:
        log_to_stderr(ctx)
    if ctx.obj is None:
        ctx.obj = Client


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


def client_from(ctx: click.Context) -> Client:
    """The client for this invocation (tests pass a factory as ``obj``)."""
    factory: Callable[[], Client] = ctx.find_root().obj
    client = factory()
    ctx.call_on_close(client.close)
    return client


def add_extensions(group: click.Group) -> list[str]:
    """Let extension packages add subcommands; a broken extension only warns."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    problems = []
    for ep in metadata.entry_points(group=EXTENSION_GROUP):
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            problems.append(f"extension {ep.name!r} not loaded: {type(exc).__name__}: {exc}")
    try:
        pm.hook.lipbridge_add_commands(cli=group)
    except Exception as exc:
        problems.append(f"an extension failed to add its commands: {exc}")
    return problems
