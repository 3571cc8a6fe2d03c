"""``lipbridge config``: the config file (TOML) and the setup it makes, per provider."""

from __future__ import annotations

import os

import click

from lipbridge.cli.app import cli, provider_records
from lipbridge.cli.render import emit_json, print_table, table
from lipbridge.cli.sources import PRECEDENCE, Origins, prices_text, settings_text
from lipbridge.config import config_path, load_config

TEMPLATE = """\
# lipbridge's config file: docs/configuration.md. Environment variables win over it.
#
# default_provider = "syncso"
#
# [providers.syncso]
# base_url = "https://api.sync.so"
# settings = { some_setting = "value" }
# prices = { "lipsync-2" = 0.05 }   # your price: USD per second of output
"""


@cli.group()
def config() -> None:
    """The config file: base URLs, provider settings, a default provider, your prices."""


@config.command("path")
def show_path() -> None:
    """Print where the config file is (LIPBRIDGE_CONFIG_PATH, else in LIPBRIDGE_USER_DIR)."""
    click.echo(str(config_path(os.environ)))


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the setup in effect for each provider and where each part comes from."""
    origins = Origins(ctx)
    user = origins.files.config if origins.files else None
    records = provider_records(ctx)
    if user is not None:  # the same checks a command using the file makes, before showing it
        user.check_providers([rec.name for rec in records])
        for rec in records:
            if rec.info is not None:
                user.check_models(rec.name, [m.name for m in rec.info.models])
    rows = [origins.view(rec.name, rec.info) for rec in records if rec.info]
    default = user.default_provider if user else None
    if as_json:
        emit_json(
            {
                "config_file": str(user.path) if user else None,
                "config_file_exists": bool(user and user.exists),
                "default_provider": default,
                "precedence": PRECEDENCE,
                "providers": rows,
            }
        )
        return
    if user is not None:
        click.echo(f"config file: {user.path}{'' if user.exists else ' (not created yet)'}")
    click.echo(f"default provider: {default or '-'}")
    click.echo(f"precedence: {PRECEDENCE}")
    out = table("provider", "base URL", "settings", "key from", "your prices", title="Setup")
    for row in rows:
        out.add_row(
            row.provider,
            f"{row.base_url.value}\n({row.base_url.source})",
            settings_text(row.settings),
            row.key.text(),
            prices_text(row.your_prices),
        )
    print_table(out)


@config.command("edit")
@click.pass_context
def edit(ctx: click.Context) -> None:
    """Open the config file in $EDITOR (made from a commented template if there is none),
    then check it."""
    path = config_path(os.environ)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(TEMPLATE, encoding="utf-8")
    click.edit(filename=str(path))
    load_config(path).check_providers([rec.name for rec in provider_records(ctx)])
    click.echo(f"{path} is valid")
