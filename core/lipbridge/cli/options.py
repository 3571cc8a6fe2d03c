"""The job commands' shared options, and what they read: the request, the wait, the
output file (never overwritten unasked)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from lipbridge.errors import InvalidRequest
from lipbridge.models import JobRequest, SyncMode, TextToSpeech, shown
from lipbridge.urls import check_output_path, check_timeout

provider_argument = click.argument("provider", required=False)


def provider_or_default(provider: str | None, default: str | None, *, also: str = "") -> str:
    """PROVIDER as given, else the config file's ``default_provider``; a usage error
    saying both ways when there is neither."""
    if provider:
        return provider
    if default is None:
        raise click.UsageError(
            f"give a PROVIDER{also} (or set default_provider in the config file: "
            "lipbridge config edit)"
        )
    return default


def positive_seconds(_: click.Context, __: click.Parameter, value: float) -> float:
    """``--timeout``: -1 would give up on a paid job at once, and nan would never give up.

    A callback rather than a ParamType, which is generic only in newer click releases.
    """
    try:
        return check_timeout(value)
    except InvalidRequest as exc:
        raise click.BadParameter(exc.message) from None


def _finite(literal: str) -> float:
    """A JSON number; NaN, Infinity and overflowing literals such as 1e999 have no JSON meaning."""
    value = float(literal)
    if not math.isfinite(value):
        raise click.BadParameter(
            f"{literal} is not a finite number; to send it as text, quote it: '\"{literal}\"'",
            param_hint="--option",
        )
    return value


def parse_option(text: str) -> tuple[str, Any]:
    """``key=value``; the value is JSON when it parses as JSON, else a plain string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not key=value", param_hint="--option")
    try:
        return key, json.loads(raw, parse_constant=_finite, parse_float=_finite)
    except RecursionError:
        raise click.BadParameter(
            f"{key}={shown(raw)} is nested too deeply to be an option", param_hint="--option"
        ) from None
    except ValueError:
        return key, raw


force_option = click.option(
    "--force", is_flag=True, help="Overwrite the output file if it exists, without asking."
)
wait_options = [
    click.option(
        "--timeout",
        type=float,
        callback=positive_seconds,
        default=1800.0,
        show_default=True,
        help="Seconds to wait before giving up (the job keeps running).",
    ),
    click.option(
        "--cancel-on-timeout",
        is_flag=True,
        help="Cancel the job at the deadline, where the provider can.",
    ),
    click.option(
        "-o", "--output", type=click.Path(dir_okay=False), help="Download the video here."
    ),
    force_option,
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
]


def interactive() -> bool:
    """Whether a person can be asked: stdin and stderr are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def output_target(path: str, *, force: bool) -> Path:
    """Where the video will be saved, checked before anything is paid for: a writable
    place (:func:`check_output_path`), and an existing file only with ``--force`` or the
    user's yes at a terminal; without a terminal, an existing file is a usage error."""
    target = check_output_path(path)
    if force or not (target.exists() or target.is_symlink()):
        return target
    if interactive():
        if click.confirm(f"{target} exists; overwrite it?", default=False, err=True):
            return target
        raise InvalidRequest(f"output={shown(path)} exists and was kept", field="output")
    raise InvalidRequest(
        f"output={shown(path)} exists",
        field="output",
        hint=("pass --force to overwrite it, or choose another path",),
    )


def with_wait_options(f: Any) -> Any:
    for option in reversed(wait_options):
        f = option(f)
    return f


request_options = [
    click.option("--video", required=True, help="Video URL or local file."),
    click.option("--audio", help="Audio URL or local file."),
    click.option("--text", help="Script to speak with the provider's TTS (instead of --audio)."),
    click.option("--voice", help="TTS voice, with --text."),
    click.option("--model", help="Model name (default: the provider's default)."),
    click.option(
        "--sync-mode",
        type=click.Choice([m.value for m in SyncMode]),
        help="What to do when video and audio lengths differ (default: the provider's).",
    ),
    click.option("--temperature", type=float, help="Expressiveness, where the model has it."),
    click.option(
        "--active-speaker/--no-active-speaker",
        default=None,
        help="Lip-sync only the speaking face, where the model can.",
    ),
    click.option(
        "--callback-url", help="URL the provider calls when the job ends, where it can."
    ),
    click.option(
        "--option",
        "options",
        multiple=True,
        metavar="KEY=VALUE",
        help="Provider-native field, sent as is (repeatable; JSON values allowed).",
    ),
    click.option(
        "--drop-unsupported",
        is_flag=True,
        help="Leave out unsupported optional options with a warning instead of failing.",
    ),
]


def with_request_options(f: Any) -> Any:
    for option in reversed(request_options):
        f = option(f)
    return f


def request_from(
    *,
    video: str,
    audio: str | None,
    text: str | None,
    voice: str | None,
    model: str | None,
    sync_mode: str | None,
    temperature: float | None,
    active_speaker: bool | None,
    callback_url: str | None,
    options: tuple[str, ...],
) -> JobRequest:
    """The request the options describe (``--drop-unsupported`` is the caller's)."""
    if (text is None) != (voice is None):
        raise click.UsageError("--text and --voice go together")
    return JobRequest(
        video=video,
        audio=audio,
        tts=TextToSpeech(text=text, voice=voice) if text and voice else None,
        model=model,
        sync_mode=sync_mode,
        temperature=temperature,
        active_speaker=active_speaker,
        callback_url=callback_url,
        options=dict(parse_option(o) for o in options),
    )
