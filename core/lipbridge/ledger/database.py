"""The ledger's SQLite file: opening it safely, its transactions, and its errors.

One connection per ledger, shared by threads under a lock (a write takes tens of
microseconds); other processes are kept in step by SQLite's own locking (WAL mode, a
busy timeout, ``BEGIN IMMEDIATE`` for every write). A file that is not a ledger, is
corrupt, or comes from a newer lipbridge is refused and left exactly as it was.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lipbridge.errors import LedgerError
from lipbridge.ledger.schema import MIGRATIONS, migrate, version_of

BUSY_TIMEOUT = 15.0  # seconds a write waits for another process's transaction
_ELSEWHERE = "pass another with --ledger PATH or LIPBRIDGE_LEDGER"


def ledger_error(path: Path, exc: sqlite3.Error) -> LedgerError:
    """What went wrong with the file, in words that say what to do; nothing was sent."""
    text = str(exc)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered:
        why = (
            f"is corrupt or not an SQLite file ({text}); it was left as it is: move it "
            f"aside or {_ELSEWHERE}"
        )
    elif "readonly" in lowered or "read-only" in lowered:
        why = f"is read-only ({text}); make it writable or {_ELSEWHERE}"
    elif "full" in lowered or "disk i/o" in lowered:
        why = f"could not be written ({text}): free some disk space or {_ELSEWHERE}"
    elif "locked" in lowered or "busy" in lowered:
        why = f"stayed locked by another process for over {BUSY_TIMEOUT:g} s ({text})"
    elif "unable to open" in lowered:
        why = f"cannot be opened ({text}): check its folder exists and is writable, or {_ELSEWHERE}"
    else:
        why = f"failed: {text}"
    return LedgerError(f"the job ledger {path} {why}", path=str(path))


class Database:
    """An open ledger file at the current schema version."""

    def __init__(
        self, path: Path, *, fsync: bool = False, migrations: tuple[str, ...] = MIGRATIONS
    ) -> None:
        self.path = path
        self._lock = threading.RLock()
        if path.exists() and not path.is_file():
            raise LedgerError(
                f"the job ledger {path} is not a file; {_ELSEWHERE}", path=str(path)
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"the job ledger's folder {path.parent} cannot be created ({exc.strerror}); "
                f"{_ELSEWHERE}",
                path=str(path),
            ) from None
        try:
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ledger_error(path, exc) from None
        try:
            self._open(fsync, migrations)
        except sqlite3.Error as exc:
            self._conn.close()
            raise ledger_error(path, exc) from None
        except LedgerError:
            self._conn.close()
            raise

    def _open(self, fsync: bool, migrations: tuple[str, ...]) -> None:
        conn = self._conn
        version = version_of(conn)
        if version is None:
            raise LedgerError(
                f"{self.path} is an SQLite file but not a lipbridge job ledger; it was left "
                f"as it is; {_ELSEWHERE}",
                path=str(self.path),
            )
        if version > len(migrations):
            raise LedgerError(
                f"the job ledger {self.path} was written by a newer lipbridge (schema "
                f"version {version}; this one reads up to {len(migrations)}): upgrade "
                f"lipbridge, or {_ELSEWHERE}",
                path=str(self.path),
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if fsync else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        if version < len(migrations):
            migrate(conn, version, migrations)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction that holds the write lock from its start (no upgrade deadlock)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise ledger_error(self.path, exc) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise ledger_error(self.path, exc) from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # a full disk may have rolled it back
                self._conn.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads."""
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                yield self._conn
            except sqlite3.Error as exc:
                raise ledger_error(self.path, exc) from None
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")


