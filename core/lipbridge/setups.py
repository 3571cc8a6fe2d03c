"""Where a client's provider setup comes from: its arguments, else the environment, else
the user's keys and config files, else the plugin's defaults; read once per provider.

The client's other jobs (the job lifecycle, waiting, prices) live in client.py.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from attrs import frozen

from lipbridge.config import ProviderConfig, UserFiles
from lipbridge.context import Credentials, env_var, provider_settings
from lipbridge.errors import ConfigurationError
from lipbridge.models import ProviderInfo
from lipbridge.registry import Registry
from lipbridge.sockets import is_local_host
from lipbridge.urls import parse_url

log = logging.getLogger("lipbridge")
PRIVATE_HOSTS_ENV = "LIPBRIDGE_ALLOW_PRIVATE_HOSTS"


def hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


@functools.cache
def _core_version() -> str:  # read once: metadata lookups touch the disk, polls are frequent
    try:
        return metadata.version("lipbridge")
    except metadata.PackageNotFoundError:
        return "0"


@frozen(kw_only=True)
class ProviderSetup:
    """What a client reads once per provider, on its first call there: key, base URL,
    settings. Scanning the environment and checking the URL on every poll cost a third
    of lipbridge's time per call."""

    credentials: Credentials
    base_url: str
    local: bool  # the base URL names a local stand-in, so its private address is allowed
    user_agent: str
    settings: Mapping[str, str]


class Setups:
    """A client's provider setups, each read on its first use and kept (thread-safe: a
    race reads twice and keeps one).

    ``environ=None`` means ``os.environ`` and the user's files; a given ``environ`` reads
    the files only where it or ``user_dir`` names them, so nothing from the user's files
    reaches a test or a replay.
    """

    def __init__(
        self,
        registry: Registry,
        environ: Mapping[str, str] | None,
        *,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        settings: Mapping[str, Mapping[str, str]] | None = None,
        user_dir: str | os.PathLike[str] | bool | None = None,
        allow_private_hosts: bool | None = None,
    ) -> None:
        if user_dir is None:
            user_dir = environ is None or UserFiles.named(environ)
        self._user_dir = user_dir
        self._files: UserFiles | None = None
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self._registry = registry
        self._api_keys = dict(api_keys or {})
        self._base_urls = dict(base_urls or {})
        self._settings = {name: dict(values) for name, values in (settings or {}).items()}
        self._setups: dict[str, ProviderSetup] = {}
        if allow_private_hosts is None:
            allow_private_hosts = self.environ.get(PRIVATE_HOSTS_ENV, "") not in ("", "0")
        self.allow_private_hosts = allow_private_hosts

    @property
    def user_files(self) -> UserFiles | None:
        """The keys and config files (read on first use), or None."""
        if self._files is None and self._user_dir is not False:
            folder = None if self._user_dir is True else Path(self._user_dir)
            files = UserFiles.at(self.environ, folder)
            known = self._registry.names()
            if not files.config.named() <= set(known):  # a disabled plugin is no mistake
                known = [record.name for record in self._registry.records()]
            files.config.check_providers(known)
            for problem in files.keys.warnings:
                log.warning("%s", problem)
            self._files = files
        return self._files

    def file_config(self, provider: str) -> ProviderConfig:
        files = self.user_files
        return ProviderConfig() if files is None else files.config.provider(provider)

    @property
    def default_provider(self) -> str | None:
        files = self.user_files
        return None if files is None else files.config.default_provider

    def credentials(self, provider: str, info: ProviderInfo) -> Credentials:
        files = self.user_files
        return Credentials.resolve(
            provider,
            info.api_key_env,
            self.environ,
            self._api_keys.get(provider),
            stored=None if files is None else files.keys.get(provider),
        )

    def _configured_base_url(self, provider: str) -> str | None:
        return (
            self._base_urls.get(provider)
            or self.environ.get(env_var(provider, "BASE_URL"))
            or self.file_config(provider).base_url
        )

    def private_ok(self, url: str) -> bool:
        """Whether ``url`` may reach a private address: allowed by the user, or its host is
        the host of a configured base URL that is local itself (an emulator, a stand-in)."""
        if self.allow_private_hosts:
            return True
        host = hostname(url)
        if not is_local_host(host):
            return False
        configured = [*self._base_urls.values()] + [
            value for name, value in self.environ.items()
            if name.startswith("LIPBRIDGE_") and name.endswith("_BASE_URL")
        ]
        if self.user_files is not None:
            configured += [c.base_url or "" for c in self.user_files.config.providers.values()]
        return any(hostname(base) == host for base in configured)

    def base_url(self, provider: str, info: ProviderInfo) -> str:
        url = self._configured_base_url(provider) or info.default_base_url
        parse_url(
            url, field=env_var(provider, "BASE_URL"), local_http_only=True, error=ConfigurationError
        )
        return url

    def get(self, provider: str, info: ProviderInfo) -> ProviderSetup:
        """``provider``'s key, base URL and settings, read on the first call and kept.

        ``api_keys``, ``base_urls`` and ``settings`` win over the environment, which wins
        over the user's files. Nothing that failed (a malformed key or URL) is kept: the
        next call reads and fails again.
        """
        setup = self._setups.get(provider)
        if setup is not None:
            return setup
        credentials = self.credentials(provider, info)
        base_url = self.base_url(provider, info)
        dist, version = self._registry.distribution(provider)
        user_agent = f"lipbridge/{_core_version()}"
        if version:
            user_agent += f" {dist}/{version}"
        setup = ProviderSetup(
            credentials=credentials,
            base_url=base_url,
            local=is_local_host(hostname(base_url)),
            user_agent=user_agent,
            settings=MappingProxyType(
                {
                    **self.file_config(provider).settings,
                    **provider_settings(provider, self.environ),
                    **self._settings.get(provider, {}),
                }
            ),
        )
        return self._setups.setdefault(provider, setup)  # another thread's, if it was quicker
