"""The config file (TOML): base URLs, provider settings, a default provider, your prices.

::

    default_provider = "syncso"

    [providers.syncso]
    base_url = "https://api.sync.so"
    settings = { region = "eu" }
    prices = { "lipsync-2" = 0.04 }        # USD per second of output

    [providers.foxapi.prices.lipsync-2]   # any price shape lipbridge knows
    per_second = 2
    unit = "credits"
    usd_per_unit = 0.01
    per = "output"                          # output, video or audio
    step = 1
    minimum = 10

Numbers are read as exact decimals (a TOML float never becomes a binary float). Every
problem is a :class:`ConfigurationError` naming the file, the key path and what is
allowed; TOML syntax errors name the line and column.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from attrs import field, frozen

from lipbridge.errors import ConfigurationError
from lipbridge.rates import Rate
from lipbridge.urls import parse_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10: the same module, before it joined the standard library
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

_TOP = ("default_provider", "providers")
_PROVIDER = ("base_url", "settings", "prices")
_PRICE = ("per_second", "unit", "usd_per_unit", "per", "step", "minimum")
_PER = ("output", "video", "audio")


@frozen(kw_only=True)
class UserPrice:
    """Your contract price for one model: a rate in ``unit``, and its USD value."""

    rate: Rate
    unit: str = "USD"
    usd_per_unit: Decimal | None = None


@frozen(kw_only=True)
class ProviderConfig:
    base_url: str | None = None
    settings: Mapping[str, str] = field(factory=dict)
    prices: Mapping[str, UserPrice] = field(factory=dict)


@frozen(kw_only=True)
class UserConfig:
    """The config file's contents; empty (and ``exists`` False) when there is none."""

    path: Path
    exists: bool = False
    default_provider: str | None = None
    providers: Mapping[str, ProviderConfig] = field(factory=dict)
    raw: Mapping[str, Any] = field(factory=dict)  # as written, for ``config show``

    def provider(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    def named(self) -> set[str]:
        """Every provider the file names."""
        default = {self.default_provider} if self.default_provider else set()
        return set(self.providers) | default

    def check_providers(self, installed: list[str]) -> None:
        """Refuse a provider name no installed plugin has (a typo would be silently unused)."""
        allowed = ", ".join(installed) or "none installed"
        if self.default_provider is not None and self.default_provider not in installed:
            raise self.error(
                "default_provider",
                f"= {self.default_provider!r} is not an installed provider",
                allowed,
            )
        for name in self.providers:
            if name not in installed:
                raise self.error(f"providers.{name}", "is not an installed provider", allowed)

    def check_models(self, provider: str, models: list[str]) -> None:
        """Refuse a price for a model ``provider`` does not offer (``models``)."""
        for name in self.provider(provider).prices:
            if name not in models:
                raise self.error(
                    f"providers.{provider}.prices.{name}",
                    f"is not a model of {provider}",
                    ", ".join(models),
                )

    def price(self, provider: str, model: str, models: list[str]) -> UserPrice | None:
        """Your price for ``provider``'s ``model`` (or its base model's, for ``name@version``);
        a price for a model the provider does not offer is refused."""
        self.check_models(provider, models)
        prices = self.provider(provider).prices
        found = prices.get(model)
        base, mark, _ = model.rpartition("@")
        return prices.get(base) if found is None and mark else found

    def error(self, where: str, problem: str, allowed: str) -> ConfigurationError:
        return ConfigurationError(f"{self.path}: {where} {problem}; allowed: {allowed}")


def load_config(path: Path) -> UserConfig:
    """``path`` read and checked; an empty config when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {exc}") from None
    try:
        # tomllib's message ends "(at line L, column C)".
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    empty = UserConfig(path=path, exists=True)
    _only(empty, "", data, _TOP)
    default = data.get("default_provider")
    if default is not None and not isinstance(default, str):
        raise empty.error("default_provider", f"= {default!r}", "a provider name (a string)")
    providers = _table(empty, "providers", data.get("providers", {}))
    return UserConfig(
        path=path,
        exists=True,
        default_provider=default,
        providers={
            name: _provider(empty, f"providers.{name}", value) for name, value in providers.items()
        },
        raw=data,
    )


def _table(config: UserConfig, where: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise config.error(where, f"= {value!r} is not a table", f"[{where}] with keys")
    return value


def _only(
    config: UserConfig, where: str, table: Mapping[str, Any], allowed: tuple[str, ...]
) -> None:
    for key in table:
        if key not in allowed:
            hint = ""
            if key in ("api_key", "key", "api_keys"):
                hint = " (keys go in the keys file: lipbridge keys set PROVIDER)"
            raise config.error(
                f"{where}.{key}" if where else key, f"is not a setting{hint}", ", ".join(allowed)
            )


def _provider(config: UserConfig, where: str, value: object) -> ProviderConfig:
    table = _table(config, where, value)
    _only(config, where, table, _PROVIDER)
    base_url = table.get("base_url")
    if base_url is not None:
        parse_url(
            base_url,
            field=f"{config.path}: {where}.base_url",
            local_http_only=True,
            error=ConfigurationError,
        )
    settings = _table(config, f"{where}.settings", table.get("settings", {}))
    prices = _table(config, f"{where}.prices", table.get("prices", {}))
    return ProviderConfig(
        base_url=base_url,
        settings={
            key: _setting(config, f"{where}.settings.{key}", v) for key, v in settings.items()
        },
        prices={model: _price(config, f"{where}.prices.{model}", v) for model, v in prices.items()},
    )


def _setting(config: UserConfig, where: str, value: object) -> str:
    """A setting as the text a ``LIPBRIDGE_<PROVIDER>_<SETTING>`` variable would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    raise config.error(where, f"= {value!r}", "a string, a number or true/false")


def _amount(config: UserConfig, where: str, value: object, *, above_zero: bool) -> Decimal:
    # Only TOML numbers and numeric strings: a bool is an int to Python, never a price.
    if isinstance(value, (int, Decimal, str)) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value).strip())
        except ArithmeticError:
            amount = Decimal("NaN")
        if amount.is_finite() and (amount > 0 if above_zero else amount >= 0):
            return amount
    least = "> 0" if above_zero else ">= 0"
    shown = value if isinstance(value, Decimal) else repr(value)
    raise config.error(where, f"= {shown} is not a price", f"a number {least}, e.g. 0.05")


def _price(config: UserConfig, where: str, value: object) -> UserPrice:
    if not isinstance(value, dict):  # the short form: USD per second of output
        return UserPrice(
            rate=Rate(per_second=_amount(config, where, value, above_zero=False)),
            usd_per_unit=Decimal(1),
        )
    _only(config, where, value, _PRICE)
    if "per_second" not in value:
        raise config.error(f"{where}.per_second", "is missing", "a number >= 0, e.g. 0.05")
    unit = value.get("unit", "USD")
    if not isinstance(unit, str) or not unit.strip():
        raise config.error(f"{where}.unit", f"= {unit!r}", 'a unit such as "USD" or "credits"')
    per = value.get("per", "output")
    if per not in _PER:
        raise config.error(f"{where}.per", f"= {per!r}", ", ".join(map(repr, _PER)))
    optional = {
        name: _amount(config, f"{where}.{name}", value[name], above_zero=name == "step")
        for name in ("step", "minimum", "usd_per_unit")
        if name in value
    }
    usd = optional.pop("usd_per_unit", Decimal(1) if unit == "USD" else None)
    return UserPrice(
        rate=Rate(
            per_second=_amount(
                config, f"{where}.per_second", value["per_second"], above_zero=False
            ),
            per=per,
            step=optional.get("step"),
            minimum=optional.get("minimum"),
        ),
        unit=unit,
        usd_per_unit=usd,
    )
