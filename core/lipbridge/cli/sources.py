"""Where each provider's key, base URL and settings come from, for ``keys list``,
``config show`` and ``providers``: the client's arguments, the environment, the user's
files or the plugin's defaults, in that order. Never the key itself."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import click
from attrs import frozen

from lipbridge.cli.app import client_from, default_client
from lipbridge.config import ProviderConfig, UserFiles
from lipbridge.config.prices import describe
from lipbridge.context import KEYS_FILE, Credentials, env_var, provider_settings
from lipbridge.errors import ConfigurationError

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.models import ProviderInfo

PRECEDENCE = "Client(...) arguments > environment variables > keys/config files > plugin defaults"
ENVIRONMENT = "environment"
FILE = "config file"
DEFAULT = "plugin default"


@frozen(kw_only=True)
class KeyOrigin:
    """Where a provider's key comes from: ``source`` (environment, keys file, argument or
    missing), the variable's name when it is one, and a note (an unused file entry)."""

    provider: str
    source: str
    variable: str | None = None
    note: str = ""

    def text(self, *, short: bool = False) -> str:
        """Where the key comes from; with the note (how to set one) unless ``short``."""
        shown = f"{self.source} ({self.variable})" if self.variable else self.source
        return f"{shown}; {self.note}" if self.note and not short else shown


@frozen(kw_only=True)
class Setting:
    value: str
    source: str  # ENVIRONMENT (with the variable), FILE, DEFAULT or the client's argument


@frozen(kw_only=True)
class ProviderView:
    """One provider's setup in effect, each part with where it comes from."""

    provider: str
    key: KeyOrigin
    base_url: Setting
    settings: Mapping[str, Setting]
    your_prices: Mapping[str, str]  # model -> your price in words


class Origins:
    """The environment and user files one command reads, as ``Client()`` would."""

    def __init__(self, ctx: click.Context) -> None:
        self._client: Client | None = None
        if ctx.find_root().obj is default_client:
            self.environ: Mapping[str, str] = os.environ
            self.files: UserFiles | None = UserFiles.at(os.environ)
        else:
            self._client = client_from(ctx)
            self.environ = self._client.environ
            self.files = self._client.user_files

    def config(self, provider: str) -> ProviderConfig:
        return ProviderConfig() if self.files is None else self.files.config.provider(provider)

    def view(self, provider: str, info: ProviderInfo) -> ProviderView:
        prices = self.config(provider).prices
        return ProviderView(
            provider=provider,
            key=self.key(provider, info),
            base_url=self.base_url(provider, info),
            settings=self.settings(provider),
            your_prices={model: describe(price) for model, price in prices.items()},
        )

    def key(self, provider: str, info: ProviderInfo) -> KeyOrigin:
        stored = None if self.files is None else self.files.keys.get(provider)
        try:
            if self._client is not None:
                found = self._client.credentials(provider, info)
            else:
                found = Credentials.resolve(provider, info.api_key_env, self.environ, None, stored)
        except ConfigurationError as exc:
            return KeyOrigin(provider=provider, source="invalid", note=exc.message)
        if found.source is None:
            names = " or ".join(found.looked_in)
            how = f"set {names}, or run: lipbridge keys set {provider}"
            return KeyOrigin(provider=provider, source="missing", note=how)
        if found.source == KEYS_FILE:
            return KeyOrigin(provider=provider, source="keys file")
        unused = "the keys file's entry is unused (the environment wins)" if stored else ""
        if found.source.startswith("api_keys["):
            return KeyOrigin(provider=provider, source="Client(api_keys=...)", note=unused)
        return KeyOrigin(provider=provider, source=ENVIRONMENT, variable=found.source, note=unused)

    def base_url(self, provider: str, info: ProviderInfo) -> Setting:
        variable = env_var(provider, "BASE_URL")
        if self.environ.get(variable):
            return Setting(value=self.environ[variable], source=f"{ENVIRONMENT} ({variable})")
        configured = self.config(provider).base_url
        if configured:
            return Setting(value=configured, source=FILE)
        return Setting(value=info.default_base_url, source=DEFAULT)

    def settings(self, provider: str) -> dict[str, Setting]:
        found = {
            k: Setting(value=v, source=FILE) for k, v in self.config(provider).settings.items()
        }
        for key, value in provider_settings(provider, self.environ).items():
            if key != "base_url":
                variable = env_var(provider, key.upper())
                found[key] = Setting(value=value, source=f"{ENVIRONMENT} ({variable})")
        return dict(sorted(found.items()))


def settings_text(settings: Mapping[str, Setting]) -> str:
    """One ``name=value (source)`` line per setting; "-" for none."""
    return "\n".join(f"{k}={s.value} ({s.source})" for k, s in settings.items()) or "-"


def prices_text(prices: Mapping[str, str]) -> str:
    """One ``model: your price`` line per price; "-" for none."""
    return "\n".join(f"{model}: {words}" for model, words in prices.items()) or "-"
