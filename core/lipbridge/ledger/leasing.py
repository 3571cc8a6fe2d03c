"""Holding a job's lease in the ledger: the leasing half of
:class:`~lipbridge.ledger.Ledger` (who may drive a job is :mod:`lipbridge.ledger.leases`).

A process holds a job's lease while it drives it; each write about the job renews it
(once half of it is spent), and its last write gives it up.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lipbridge.context import Clock
from lipbridge.errors import JobBusy
from lipbridge.ledger.database import Database
from lipbridge.ledger.leases import Owner, held_by_other
from lipbridge.ledger.queries import parse_timestamp, timestamp

if TYPE_CHECKING:
    from lipbridge.errors import InvalidRequest


class LedgerLeases:
    """Leases: which jobs this ledger object drives, across its threads."""

    _db: Database
    clock: Clock
    lease: dt.timedelta
    owner: Owner
    _driving: set[str]
    _driving_lock: threading.Lock
    _renewed: dict[str, dt.datetime]  # when each held lease was last extended

    if TYPE_CHECKING:  # LedgerQueries's, which the Ledger also is

        def _no_such_job(self, ref: str) -> InvalidRequest: ...

    @contextmanager
    def driving(self, local_id: str) -> Iterator[None]:
        """Hold ``local_id``'s lease for the block, or raise :class:`JobBusy`."""
        self.acquire(local_id)
        try:
            yield
        finally:
            self.release(local_id)

    def acquire(self, local_id: str) -> None:
        with self._driving_lock:
            if local_id in self._driving:
                raise JobBusy(
                    f"job {local_id} is already being driven by another thread of this process",
                    local_id=local_id,
                    owner=str(self.owner),
                )
            with self._db.write() as conn:
                row = conn.execute(
                    "SELECT lease_owner, lease_expires_at FROM jobs WHERE local_id = ?",
                    (local_id,),
                ).fetchone()
                if row is None:
                    raise self._no_such_job(local_id)
                now = self.clock.now()
                other = held_by_other(row[0], parse_timestamp(row[1]), self.owner, now)
                if other is not None:
                    raise JobBusy(
                        f"job {local_id} is being driven by {other.describe()} (its lease runs "
                        f"until {row[1]}); let it finish, or try again after that",
                        local_id=local_id,
                        owner=str(other),
                    )
                conn.execute(
                    "UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE local_id = ?",
                    (str(self.owner), timestamp(now + self.lease), local_id),
                )
            self._driving.add(local_id)
            self._renewed[local_id] = now

    def _renew(self, conn: sqlite3.Connection, local_id: str) -> None:
        now = self.clock.now()
        conn.execute(
            "UPDATE jobs SET lease_expires_at = ? WHERE local_id = ? AND lease_owner = ?",
            (timestamp(now + self.lease), local_id, str(self.owner)),
        )
        self._renewed[local_id] = now

    def _keep_or_release(self, conn: sqlite3.Connection, local_id: str, release: bool) -> None:
        if release:
            self._release(conn, local_id)
        else:
            self._renew(conn, local_id)

    def _lease_half_spent(self, local_id: str) -> bool:
        renewed = self._renewed.get(local_id)
        return renewed is None or self.clock.now() - renewed > self.lease / 2

    def _forget(self, local_id: str, released: bool) -> None:
        if released:
            with self._driving_lock:
                self._driving.discard(local_id)
            self._renewed.pop(local_id, None)

    def release(self, local_id: str) -> None:
        with self._driving_lock:
            if local_id not in self._driving:
                return  # released already (with its last write)
            self._driving.discard(local_id)
            self._renewed.pop(local_id, None)
            with self._db.write() as conn:
                self._release(conn, local_id)

    def _release(self, conn: sqlite3.Connection, local_id: str) -> None:
        conn.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE local_id = ? AND lease_owner = ?",
            (local_id, str(self.owner)),
        )
