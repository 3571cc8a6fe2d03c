"""A local stand-in for the providers' APIs: real HTTP, real media, injectable faults.

See docs/emulator.md. The engine is shared; each provider is a small :class:`Dialect`.
"""

from lipbridge_contract.emulator.clock import VirtualClock
from lipbridge_contract.emulator.dialect import Dialect
from lipbridge_contract.emulator.engine import DEFAULT_KEY, Emulator, Timing
from lipbridge_contract.emulator.faults import FaultSpec, parse

__all__ = ["DEFAULT_KEY", "Dialect", "Emulator", "FaultSpec", "Timing", "VirtualClock", "parse"]
