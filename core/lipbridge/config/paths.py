"""Where lipbridge keeps the user's keys and configuration: one folder, overridable.

The folder is ``LIPBRIDGE_USER_DIR``, else the platform's config folder for lipbridge
(``~/.config/lipbridge`` on Linux, through platformdirs); each file can be moved on its
own with ``LIPBRIDGE_KEYS_PATH`` and ``LIPBRIDGE_CONFIG_PATH`` (tests, containers).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

USER_DIR_ENV = "LIPBRIDGE_USER_DIR"
KEYS_PATH_ENV = "LIPBRIDGE_KEYS_PATH"
CONFIG_PATH_ENV = "LIPBRIDGE_CONFIG_PATH"
KEYS_FILE = "keys.json"
CONFIG_FILE = "config.toml"


def user_dir(environ: Mapping[str, str]) -> Path:
    """``LIPBRIDGE_USER_DIR``, else the user's config folder for lipbridge."""
    given = environ.get(USER_DIR_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    import platformdirs  # only when a file is looked for

    return Path(platformdirs.user_config_dir("lipbridge", appauthor=False))


def keys_path(environ: Mapping[str, str], folder: Path | None = None) -> Path:
    """The keys file: ``LIPBRIDGE_KEYS_PATH``, else ``keys.json`` in ``folder`` (the user's)."""
    return _path(environ, KEYS_PATH_ENV, KEYS_FILE, folder)


def config_path(environ: Mapping[str, str], folder: Path | None = None) -> Path:
    """The config file: ``LIPBRIDGE_CONFIG_PATH``, else ``config.toml`` in ``folder``."""
    return _path(environ, CONFIG_PATH_ENV, CONFIG_FILE, folder)


def _path(environ: Mapping[str, str], variable: str, name: str, folder: Path | None) -> Path:
    given = environ.get(variable, "").strip()
    if given:
        return Path(given).expanduser()
    return (folder or user_dir(environ)) / name
