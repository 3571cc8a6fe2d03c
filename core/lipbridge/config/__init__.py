"""The user's files: the keys file and the config file, in one folder (docs/configuration.md).

Precedence, highest first: ``Client(...)`` arguments, environment variables, these files,
the plugin's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from attrs import frozen

from lipbridge.config.file import ProviderConfig, UserConfig, UserPrice, load_config
from lipbridge.config.paths import (
    CONFIG_PATH_ENV,
    KEYS_PATH_ENV,
    USER_DIR_ENV,
    config_path,
    keys_path,
    user_dir,
)
from lipbridge.keys import KeyStore

__all__ = [
    "CONFIG_PATH_ENV",
    "KEYS_PATH_ENV",
    "USER_DIR_ENV",
    "ProviderConfig",
    "UserConfig",
    "UserFiles",
    "UserPrice",
    "config_path",
    "keys_path",
    "load_config",
    "user_dir",
]


@frozen
class UserFiles:
    """The keys file and the (read, checked) config file a client or command uses."""

    keys: KeyStore
    config: UserConfig

    @classmethod
    def at(cls, environ: Mapping[str, str], folder: Path | None = None) -> UserFiles:
        """The files in ``folder`` (default: the user's), each moved by its variable."""
        return cls(
            keys=KeyStore(keys_path(environ, folder)),
            config=load_config(config_path(environ, folder)),
        )

    @staticmethod
    def named(environ: Mapping[str, str]) -> bool:
        """Whether ``environ`` names where the files are (so a client given it reads them)."""
        return any(environ.get(v) for v in (USER_DIR_ENV, KEYS_PATH_ENV, CONFIG_PATH_ENV))
