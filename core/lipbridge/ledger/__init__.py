"""The local job ledger: SQLite, one file, every paid job recorded before it is paid for.

See docs/jobs.md for the states a job goes through and what is durable when.
"""

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
