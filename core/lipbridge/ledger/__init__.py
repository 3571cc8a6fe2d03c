"""The local job ledger: SQLite, one file, every paid job recorded before it is paid for.

See docs/jobs.md for the states a job goes through and what is durable when. Names are
imported on first use: ``lipbridge --help`` needs the states, not SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipbridge import lazy_names

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


__getattr__ = lazy_names("lipbridge.ledger", "lipbridge.ledger", _HOMES, globals())
