"""The local job ledger: SQLite, one file, every paid job recorded before it is paid for.

See docs/jobs.md for the states a job goes through and what is durable when. Names are
imported on first use: ``lipbridge --help`` needs the states, not SQLite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipbridge.ledger.ids import is_local_id, new_local_id
    from lipbridge.ledger.records import (
        EventKind,
        JobSummary,
        LedgerEvent,
        LedgerJob,
        LocalState,
        fingerprint,
    )
    from lipbridge.ledger.schema import SCHEMA_VERSION
    from lipbridge.ledger.store import LEDGER_ENV, Ledger, default_path

_HOMES = {
    **dict.fromkeys(("is_local_id", "new_local_id"), "ids"),
    **dict.fromkeys(
        ("EventKind", "JobSummary", "LedgerEvent", "LedgerJob", "LocalState", "fingerprint"),
        "records",
    ),
    "SCHEMA_VERSION": "schema",
    **dict.fromkeys(("LEDGER_ENV", "Ledger", "default_path"), "store"),
}

__all__ = [
    "LEDGER_ENV",
    "SCHEMA_VERSION",
    "EventKind",
    "JobSummary",
    "Ledger",
    "LedgerEvent",
    "LedgerJob",
    "LocalState",
    "default_path",
    "fingerprint",
    "is_local_id",
    "new_local_id",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lipbridge.ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lipbridge.ledger.{home}"), name)
    globals()[name] = value
    return value
