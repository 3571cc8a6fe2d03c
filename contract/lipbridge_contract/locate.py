"""Where a provider's cassettes are when no directory is given: inside its plugin.

A plugin ships its cassettes as package data, in a ``cassettes`` folder of the package
that holds the module its entry point names: ``jogg = "lipbridge_jogg:plugin"`` reads
``lipbridge_jogg/cassettes/jogg/``. So ``lipbridge contract jogg`` certifies from any
directory, installed from a wheel or editable. A plugin that ships none (a single-module
plugin cannot) is read from ``./cassettes/<provider>/``, the default before plugins
shipped theirs; ``--cassettes DIR`` (or ``cassettes=`` in the pytest marker) overrides both.

The folder is found on the import path without importing the plugin (which is not
``importlib.resources``: it imports the package), because the ``load`` check must see the
plugin's first import, with the network blocked.
"""

from __future__ import annotations

import importlib.util
from importlib.machinery import PathFinder
from pathlib import Path

from lipbridge import Registry
from lipbridge.errors import LipbridgeError

FOLDER = "cassettes"
LEGACY = Path(FOLDER)  # the default before plugins shipped their cassettes


def cassette_root(registry: Registry, provider: str, default: Path = LEGACY) -> Path:
    """The directory holding ``<provider>/``: the plugin's own when it ships one, else
    ``default``."""
    return packaged_cassettes(registry, provider) or default


def given_or_shipped(root: Path | None, provider: str) -> Path:
    """A command's ``--cassettes DIR`` when given, else the installed plugin's own."""
    return root if root is not None else cassette_root(Registry(), provider)


def packaged_cassettes(registry: Registry, provider: str) -> Path | None:
    """The ``cassettes`` folder the provider's plugin ships with a ``<provider>/`` in it."""
    try:
        entry_point = registry.entry_point(provider)
    except LipbridgeError:  # not installed or claimed twice: the suite's checks say so
        return None
    if entry_point is None:  # registered in-process: no package to look in
        return None
    for folder in package_folders(entry_point.module):
        if (folder / FOLDER / provider).is_dir():
            return folder / FOLDER
    return None


def package_folders(module: str) -> list[Path]:
    """The folders of the package that is or holds ``module``, found without importing
    anything; none for a top-level plain module, whose folder is everyone's."""
    parts = module.split(".")
    try:  # the top level through every finder (an editable install may have its own)
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return []
    folders: list[str] = []
    for depth in range(1, len(parts) + 1):
        if depth > 1:  # below it, on the package's own path: the parents stay unimported
            spec = PathFinder.find_spec(".".join(parts[:depth]), folders)
        if spec is None:
            return []
        if spec.submodule_search_locations is None:  # a plain module: its package's folders
            return [Path(p) for p in folders] if depth == len(parts) else []
        folders = list(spec.submodule_search_locations)
    return [Path(p) for p in folders]
