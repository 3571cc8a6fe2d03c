"""How the ``lipbridge`` command reports a failure: exit codes, the error (one line of text,
or one JSON object under ``--json``), hints in the command's own words, warnings.

Everything printed here goes through :mod:`lipbridge.redact`, so no key and no signed
URL's credentials reach the terminal. Imported by every command: json is imported only
when an error is reported as JSON.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING, Any, TextIO

import click
from attrs import field, frozen

from lipbridge.errors import (
    AUDIO_SECONDS,
    DROP_UNSUPPORTED,
    PRIVATE_HOSTS_ARG,
    REQUEST_FIELDS,
    STAGING_ARG,
    VIDEO_SECONDS,
    ConfigurationError,
    DownloadFailed,
    InvalidRequest,
    JobBusy,
    JobFailed,
    LedgerError,
    LipbridgeError,
    OutputError,
    PluginContractError,
    PluginLoadError,
    ProviderConflict,
    ProviderError,
    SubmitOutcomeUnknown,
    Term,
    UnknownProvider,
    UnsupportedCapability,
    WaitTimeout,
    spell,
)
from lipbridge.redact import redact_message, scrub, scrub_data

if TYPE_CHECKING:
    from lipbridge.errors import Hint


class ExitCode(enum.IntEnum):
    """Process exit codes; ``lipbridge --help`` and docs/cli.md list them with ``meaning``."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIGURATION = 3
    PROVIDER = 4
    JOB_FAILED = 5
    TIMEOUT = 6
    OUTPUT = 7
    BUSY = 8
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "an unexpected failure: a bug, or a plugin that broke its contract",
    ExitCode.USAGE: "bad arguments, an invalid request, an unknown provider, an unsupported "
    "option or operation, an output file that exists (without --force)",
    ExitCode.CONFIGURATION: "a missing key, a bad base URL, a broken or conflicting plugin, "
    "a job ledger that cannot be used",
    ExitCode.PROVIDER: "the provider refused, failed or was unreachable; a submit whose "
    "outcome is unknown",
    ExitCode.JOB_FAILED: "the job failed or was cancelled",
    ExitCode.TIMEOUT: "the wait reached its deadline; the job may still finish",
    ExitCode.OUTPUT: "the video could not be saved locally; fetch it again",
    ExitCode.BUSY: "another process is driving this job",
    ExitCode.INTERRUPTED: "stopped by Ctrl-C; resumable",
}


def exit_code_table(columns: int = 78) -> str:
    """The exit codes as ``lipbridge --help`` shows them, from :class:`ExitCode` alone."""
    import textwrap

    width = max(len(code.name) for code in ExitCode)
    indent = " " * (width + 7)
    return "\n".join(
        textwrap.fill(
            code.meaning,
            columns,
            initial_indent=f"{code.value:>3}  {code.name:<{width}}  ",
            subsequent_indent=indent,
        )
        for code in ExitCode
    )


def exit_code_for(error: LipbridgeError) -> ExitCode:
    if isinstance(error, PluginContractError):
        return ExitCode.ERROR
    if isinstance(error, JobFailed):
        return ExitCode.JOB_FAILED
    if isinstance(error, WaitTimeout):
        return ExitCode.TIMEOUT
    if isinstance(error, OutputError):
        return ExitCode.OUTPUT
    if isinstance(error, JobBusy):
        return ExitCode.BUSY
    if isinstance(error, LedgerError):
        return ExitCode.CONFIGURATION
    if isinstance(error, (ProviderError, DownloadFailed)):
        return ExitCode.PROVIDER
    if isinstance(error, (ConfigurationError, PluginLoadError, ProviderConflict)):
        return ExitCode.CONFIGURATION
    if isinstance(error, (InvalidRequest, UnknownProvider, UnsupportedCapability)):
        return ExitCode.USAGE
    return ExitCode.PROVIDER


# --- hints in the command's words ------------------------------------------------------------

# Every term a library hint may use (lipbridge.errors.TERMS), as the command spells it;
# "" leaves out an alternative only Python has.
CLI_WORDS = {
    DROP_UNSUPPORTED.name: "pass --drop-unsupported",
    REQUEST_FIELDS.name: "the request's own options (--video, --audio, --text, --voice, "
    "--model, --sync-mode, --temperature, --active-speaker, --callback-url)",
    STAGING_ARG.name: "",
    PRIVATE_HOSTS_ARG.name: "",
    VIDEO_SECONDS.name: "--video-duration",
    AUDIO_SECONDS.name: "--audio-duration",
}


def cli_word(term: Term) -> str:
    """``term`` as the command spells it (the Python spelling for a term it does not know)."""
    return CLI_WORDS.get(term.name, term.python)


def cli_hint(hint: Hint, options: frozenset[str] | None = None) -> str:
    """The hint in the command's words; none when one of its terms is an option that
    ``options`` (the running command's, where known) lacks: ``estimate`` has no
    ``--drop-unsupported``."""
    terms = " ".join(cli_word(part) for part in hint if isinstance(part, Term))
    named = set(re.findall(r"--[a-z][a-z-]*", terms))
    return "" if options is not None and not named <= options else spell(hint, cli_word)


# --- reporting ---------------------------------------------------------------------------------


@frozen(kw_only=True)
class Problem:
    """One failure as reported: what went wrong, what to do about it (``hint``, said on the
    same line, then ``steps``, a line each), and ``details`` for machines."""

    kind: str
    message: str
    hint: str = ""
    steps: tuple[str, ...] = ()
    code: ExitCode
    details: dict[str, Any] = field(factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "error": self.kind,
            "message": self.message,
            "hint": "\n".join(filter(None, (self.hint, *self.steps))) or None,
            "exit_code": int(self.code),
            "exit": self.code.name,
            **self.details,
        }


def problem(error: LipbridgeError, options: frozenset[str] | None = None) -> Problem:
    """What the user is told about ``error``: the message, then how to recover the job;
    ``options`` are those of the command that ran, which a hint may name.

    Redacted here once more, whatever the error holds; a handle only has keys scrubbed,
    as masking a URL in it would make it useless for resuming.
    """
    steps = []
    details: dict[str, Any] = {}
    if isinstance(error, InvalidRequest) and error.field:
        details["field"] = error.field
    if isinstance(error, ProviderError):
        found = {
            "provider": error.provider,
            "http_status": error.http_status,
            "code": error.code,
            "job_id": error.job_id,
        }
        details.update({name: value for name, value in found.items() if value})
    if isinstance(error, WaitTimeout):
        handle = scrub(error.handle.to_json())
        steps.append(f"resume with this handle: {handle}")
        details["handle"] = _json_loads(handle)
    if isinstance(error, SubmitOutcomeUnknown):
        details["details"] = scrub_data(error.details)
        local_id = error.details.get("local_id")
        if local_id:
            steps.append(
                f"the job ledger has it as {local_id}: `lipbridge jobs resume {local_id}` "
                "settles it without paying twice"
            )
    if isinstance(error, OutputError):
        details["path"] = error.path
        steps.append(
            "the job's result is untouched; fetch it again with: "
            "lipbridge download PROVIDER JOB_ID PATH"
        )
    return Problem(
        kind=type(error).__name__,
        message=error.summary,
        hint=redact_message(cli_hint(error.hint, options)),
        steps=tuple(steps),
        code=exit_code_for(error),
        details=details,
    )


def _json_loads(text: str) -> Any:
    import json

    return json.loads(text)


def report(
    error: LipbridgeError, *, as_json: bool = False, options: frozenset[str] | None = None
) -> None:
    """The error on stderr: a line (plus what is needed to recover a job), or one JSON object."""
    show(problem(error, options), as_json=as_json)


def show(found: Problem, *, as_json: bool = False) -> None:
    if as_json:
        import json

        text = json.dumps(scrub_data(found.as_json()), sort_keys=True, default=str)
        click.echo(redact_message(text), err=True)
        return
    line = f"error: {found.message}" + (f"; {found.hint}" if found.hint else "")
    click.echo(redact_message(line), err=True)
    if isinstance(found.details.get("details"), dict):
        import json

        details = json.dumps(found.details["details"], sort_keys=True)
        click.echo(redact_message(f"details: {details}"), err=True)
    for step in found.steps:
        click.echo(step, err=True)


def usage_problem(error: click.ClickException) -> Problem:
    """A click usage error (bad option, missing argument) as a :class:`Problem`."""
    hint = ""
    if isinstance(error, click.UsageError) and error.ctx is not None:
        hint = f"see: {error.ctx.command_path} --help"
    return Problem(
        kind=type(error).__name__,
        message=error.format_message(),
        hint=hint,
        code=ExitCode(error.exit_code) if error.exit_code in set(ExitCode) else ExitCode.USAGE,
    )


# --- warnings ----------------------------------------------------------------------------------


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A Python warning as one plain ``warning: ...`` line on stderr, with no file, line or
    source: installed by the console script (:func:`lipbridge.cli.main`), never by the
    library, so a program using lipbridge keeps its own warning display."""
    click.echo(redact_message(f"warning: {message}"), err=True)
