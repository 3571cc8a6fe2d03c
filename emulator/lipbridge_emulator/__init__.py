"""A local stand-in for the providers' APIs: real HTTP, real media, injectable faults.

See docs/emulator.md. The engine is shared; each provider is a small :class:`Dialect`.
Names are imported on first use, so ``lipbridge --help`` listing the emulator's commands
does not load the engine, PyAV or the HTTP server. ``VirtualClock`` is the deprecated
name of :class:`CooperativeClock` (the contract suite has a clock of that name too).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipbridge_emulator.clock import CooperativeClock
    from lipbridge_emulator.clock import CooperativeClock as VirtualClock
    from lipbridge_emulator.dialect import DIALECT_VERSION, Dialect
    from lipbridge_emulator.engine import DEFAULT_KEY, Emulator
    from lipbridge_emulator.faults import FaultSpec, parse
    from lipbridge_emulator.jobs import Timing

_HOMES = {
    "CooperativeClock": "clock",
    "DIALECT_VERSION": "dialect",
    "Dialect": "dialect",
    "DEFAULT_KEY": "engine",
    "Emulator": "engine",
    "Timing": "jobs",
    "FaultSpec": "faults",
    "parse": "faults",
}

__all__ = [
    "DEFAULT_KEY",
    "DIALECT_VERSION",
    "CooperativeClock",
    "Dialect",
    "Emulator",
    "FaultSpec",
    "Timing",
    "VirtualClock",  # deprecated
    "parse",
]


def __getattr__(name: str) -> Any:
    if name == "VirtualClock":  # renamed in 0.1; the alias goes in 0.2
        warnings.warn(
            "lipbridge_emulator.VirtualClock is deprecated: it is CooperativeClock now; "
            "the alias is kept for one minor version",
            DeprecationWarning,
            stacklevel=2,
        )
        name = "CooperativeClock"
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lipbridge_emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lipbridge_emulator.{home}"), name)
