"""``lipbridge keys``: API keys kept in the keys file (mode 0600), as llm keeps its own.

A key is typed at a hidden prompt (or piped on stdin) and never printed back by any
command. Environment variables win over the file; ``keys list`` shows which is used.
"""

from __future__ import annotations

import os
import sys

import click

from lipbridge.cli.app import cli, provider_records, warn
from lipbridge.cli.render import emit_json, print_table, table
from lipbridge.cli.sources import PRECEDENCE, Origins
from lipbridge.config import keys_path
from lipbridge.context import check_key, env_var
from lipbridge.keys import KeyStore


def _store() -> KeyStore:
    store = KeyStore(keys_path(os.environ))
    store.keys()  # read now, so a loose mode is fixed and reported before anything else
    for problem in store.warnings:
        warn(problem)
    return store


def interactive() -> bool:
    """Whether stdin is a terminal: then the key is typed at a hidden prompt."""
    return sys.stdin.isatty()


def _installed(ctx: click.Context) -> dict[str, tuple[str, ...]]:
    """Each usable provider's name, with the vendor's own key variables it reads."""
    return {rec.name: rec.info.api_key_env for rec in provider_records(ctx) if rec.info}


@cli.group()
def keys() -> None:
    """Keep API keys in the keys file (mode 0600); environment variables win over it."""


@keys.command("set")
@click.argument("provider")
@click.pass_context
def set_key(ctx: click.Context, provider: str) -> None:
    """Store PROVIDER's API key, typed at a hidden prompt (or read from stdin when piped)."""
    installed = _installed(ctx)
    if provider not in installed:
        raise click.BadParameter(
            f"{provider!r} is not an installed provider; allowed: {', '.join(installed) or '-'}",
            param_hint="PROVIDER",
        )
    value: str
    if interactive():
        value = click.prompt(f"API key for {provider}", hide_input=True, show_default=False)
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise click.UsageError("no key given (type it at the prompt, or pipe it on stdin)")
    check_key(value, "the key given")
    store = _store()
    store.set(provider, value)
    click.echo(f"stored the key for {provider} in {store.path}", err=True)
    for variable in (env_var(provider, "API_KEY"), *installed[provider]):  # the precedence
        if os.environ.get(variable, "").strip():
            warn(f"{variable} is set in this environment and wins over the keys file")
            break


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_keys(ctx: click.Context, as_json: bool) -> None:
    """Name each provider and where its key comes from (never the key)."""
    origins = Origins(ctx)
    found = [origins.key(rec.name, rec.info) for rec in provider_records(ctx) if rec.info]
    store = origins.files.keys if origins.files else None
    stray = sorted(set(store.keys() if store else ()) - {k.provider for k in found})
    if as_json:
        emit_json(
            {
                "keys_file": str(store.path) if store else None,
                "keys": found,
                "not_installed": stray,
                "precedence": PRECEDENCE,
            }
        )
        return
    out = table("provider", "key from", title="API keys")
    for origin in found:
        out.add_row(origin.provider, origin.text())
    for name in stray:
        out.add_row(name, "keys file; no such provider is installed")
    print_table(out)
    if store is not None:
        click.echo(f"keys file: {store.path}")
    click.echo(f"precedence: {PRECEDENCE}")


@keys.command("remove")
@click.argument("provider")
def remove_key(provider: str) -> None:
    """Delete PROVIDER's key from the keys file."""
    store = _store()
    if not store.remove(provider):
        stored = ", ".join(sorted(store.keys())) or "none"
        raise click.UsageError(f"no key for {provider!r} in {store.path}; stored: {stored}")
    click.echo(f"removed the key for {provider} from {store.path}")


@keys.command("path")
def key_path() -> None:
    """Print where the keys file is (LIPBRIDGE_KEYS_PATH, else in LIPBRIDGE_USER_DIR)."""
    click.echo(str(keys_path(os.environ)))
