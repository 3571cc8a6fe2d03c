"""Dialects of the providers whose plugins ship with lipbridge, and finding the others.

The built-in dialects are written from each provider's documentation, independently of
the plugins, so the emulator tests a plugin's reading of the docs rather than echoing it.
"""

from __future__ import annotations

from lipbridge import LipbridgeError, Registry
from lipbridge_emulator.dialect import Dialect, version_problem
from lipbridge_emulator.dialects.aimlapi import AimlapiDialect
from lipbridge_emulator.dialects.fal import FalDialect
from lipbridge_emulator.dialects.gateway import AIHUBMAX, FOXAPI
from lipbridge_emulator.dialects.jogg import JoggDialect
from lipbridge_emulator.dialects.replicate import ReplicateDialect
from lipbridge_emulator.dialects.syncso import SyncsoDialect


def built_in() -> list[Dialect]:
    return [
        FOXAPI,
        AIHUBMAX,
        AimlapiDialect(),
        JoggDialect(),
        SyncsoDialect(),
        ReplicateDialect(),
        FalDialect(),
    ]


def installed_dialects(registry: Registry | None = None) -> list[Dialect]:
    """The built-in dialects, plus any an installed plugin supplies through
    ``lipbridge_emulator_dialect`` (a plugin's own dialect replaces a built-in one)."""
    registry = registry or Registry()
    found = {d.provider: d for d in built_in()}
    for name in registry.names():
        try:
            supplied = registry.call(name, "lipbridge_emulator_dialect")
        except LipbridgeError:  # a broken or disabled plugin: `lipbridge providers` says why
            continue
        if supplied is not None:
            if not isinstance(supplied, Dialect) or supplied.provider != name:
                raise TypeError(
                    f"{name}: lipbridge_emulator_dialect returned {supplied!r}; it must be a "
                    f"Dialect whose provider is {name!r}"
                )
            problem = version_problem(supplied)
            if problem:
                raise TypeError(f"{name}: its emulator dialect cannot be used: {problem}")
            found[name] = supplied
    return list(found.values())
