"""Re-recording scenarios: against the live API, or from the emulator.

The scenario's sidecar is the script. :mod:`.recorder` runs one under vcrpy through
:mod:`.scrubbers`; :mod:`.live` is the path that spends money (spend planning and the
rules checked before anything is sent); :mod:`.emulated` records from an in-process
emulator; :mod:`.command` is ``lipbridge contract record live|emulator``.
"""

from __future__ import annotations

from lipbridge_contract.record.command import record
from lipbridge_contract.record.emulated import EMULATOR_HOST, record_from_emulator
from lipbridge_contract.record.live import looks_like_emulator, plan_spend, record_scenarios
from lipbridge_contract.record.recorder import INVALID_KEY, RecordRefused

__all__ = [
    "EMULATOR_HOST",
    "INVALID_KEY",
    "RecordRefused",
    "looks_like_emulator",
    "plan_spend",
    "record",
    "record_from_emulator",
    "record_scenarios",
]
