"""The job ledger: every job recorded before it is paid for, and everything after.

Writes happen at the moments that matter for money: the intent before the submit is
sent, the handle as soon as the provider answers, each change a poll sees, the result,
the downloaded file. A job is driven by one process at a time (see
:mod:`lipbridge.ledger.leases`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lipbridge.context import Clock, SystemClock
from lipbridge.convert import dumps
from lipbridge.errors import LipbridgeError
from lipbridge.ledger.database import Database
from lipbridge.ledger.ids import new_local_id
from lipbridge.ledger.leases import LEASE_SECONDS, Owner, held_by_other
from lipbridge.ledger.leasing import LedgerLeases
from lipbridge.ledger.media import LedgerMedia
from lipbridge.ledger.queries import LedgerQueries, parse_timestamp, text_of, timestamp
from lipbridge.ledger.records import (
    EventKind,
    LedgerJob,
    LocalState,
    MediaRoute,
    digest,
)
from lipbridge.models import CostEstimate, JobHandle, JobRequest, JobResult, JobState, JobStatus
from lipbridge.redact import scrub

LEDGER_ENV = "LIPBRIDGE_LEDGER"


# States that are final at the provider: a poll's later word never undoes them.
_OVER = "'succeeded', 'downloaded', 'failed', 'cancelled', 'rejected'"


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``LIPBRIDGE_LEDGER``, else ``jobs.sqlite`` in the user's data directory."""
    configured = environ.get(LEDGER_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # only when a ledger is opened

    return Path(platformdirs.user_data_dir("lipbridge", appauthor=False)) / "jobs.sqlite"


class Ledger(LedgerQueries, LedgerMedia, LedgerLeases):
    """A job ledger file. Safe to share between threads and between processes.

    ``fsync=True`` makes every write durable across a power cut too, at about 3 ms a
    write; by default a write survives any crash of the process (``kill -9`` included)
    but the last few may be lost if the machine itself loses power.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        fsync: bool = False,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.path = Path(path).expanduser()
        self.clock: Clock = clock or SystemClock()
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.owner = Owner.this_process()
        self._db = Database(self.path, fsync=fsync)
        self._driving: set[str] = set()  # jobs this ledger object drives, across its threads
        self._driving_lock = threading.Lock()
        self._renewed: dict[str, dt.datetime] = {}  # when each held lease was last extended
        self._lapse_orphaned_submits()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> str:
        return timestamp(self.clock.now())

    # -- recording a job's life ---------------------------------------------------------------

    def begin(
        self,
        provider: str,
        request: JobRequest,
        *,
        estimate: CostEstimate | None = None,
        output: str | None = None,
        batch: tuple[str, int] | None = None,
        routes: tuple[MediaRoute, ...] = (),
        sent: JobRequest | None = None,
        local_id: str | None = None,
    ) -> LedgerJob:
        """Record the intent to submit, leased to this process; commit before sending.

        ``batch`` is the batch id and manifest line the job is an attempt at; ``routes``
        how its local inputs go, and ``sent`` the request as sent, with the references
        that replace their paths (``request`` keeps the paths, as the user gave them).
        ``local_id`` is the id a job was given elsewhere (a workflow engine names its job
        before any worker records it), else a new one.
        """
        now = self.clock.now()
        local_id = local_id or new_local_id(now)
        amount = estimate.amount if estimate is not None else None
        request_json = dumps(request)
        print_ = digest(request_json)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO jobs (local_id, provider, model, request_json, fingerprint, state, "
                "created_at, updated_at, estimate_json, estimate_amount, estimate_unit, "
                "estimate_usd, output_path, lease_owner, lease_expires_at, batch_id, batch_line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    local_id, provider, request.model, scrub(request_json),
                    print_, LocalState.SUBMITTING.value, timestamp(now), timestamp(now),
                    dumps(estimate) if estimate is not None else None, text_of(amount),
                    estimate.unit if estimate is not None and amount is not None else None,
                    text_of(estimate.usd) if estimate is not None else None, output,
                    str(self.owner), timestamp(now + self.lease),
                    batch[0] if batch else None, batch[1] if batch else None,
                ),
            )
            self._write_routes(conn, local_id, routes, sent or request)
            self._event(conn, local_id, EventKind.INTENT, LocalState.SUBMITTING)
        with self._driving_lock:
            self._driving.add(local_id)
            self._renewed[local_id] = now
        return LedgerJob(
            local_id=local_id,
            provider=provider,
            model=request.model,
            request=request,
            fingerprint=print_,
            state=LocalState.SUBMITTING,
            created_at=now,
            updated_at=now,
            estimate=estimate,
            output_path=output,
            lease_owner=str(self.owner),
            lease_expires_at=now + self.lease,
            batch_id=batch[0] if batch else None,
            batch_line=batch[1] if batch else None,
            routes=routes,
        )

    def create_batch(
        self,
        fingerprint: str,
        source: str,
        settings: Mapping[str, Any],
        rows: Sequence[tuple[int, str]],
    ) -> str:
        """Record a batch and its rows (line, row JSON) before any of them is submitted."""
        batch_id = new_local_id(self.clock.now())
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO batches (batch_id, created_at, fingerprint, source, settings_json) "
                "VALUES (?, ?, ?, ?, ?)",
                (batch_id, self._now(), fingerprint, source, json.dumps(settings, sort_keys=True)),
            )
            conn.executemany(
                "INSERT INTO batch_rows (batch_id, line, row_json) VALUES (?, ?, ?)",
                [(batch_id, line, scrub(row_json)) for line, row_json in rows],
            )
        return batch_id

    def resubmitting(self, local_id: str) -> None:
        """A job proven never accepted is about to be submitted again (under its lease)."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE local_id = ?",
                (LocalState.SUBMITTING.value, self._now(), local_id),
            )
            self._event(conn, local_id, EventKind.INTENT, LocalState.SUBMITTING)

    def submitted(self, local_id: str, handle: JobHandle, *, release: bool = False) -> None:
        """The provider answered: from now on the job can always be found again.

        ``release`` gives up the lease in the same write (a submit that waits no further).
        """
        state = LocalState.QUEUED
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, provider_job_id = ?, handle_json = ?, "
                "error_class = NULL, error_message = NULL, updated_at = ? WHERE local_id = ?",
                (state.value, handle.job_id, scrub(handle.to_json()), self._now(), local_id),
            )
            self._event(conn, local_id, EventKind.SUBMITTED, state)
            if release:
                self._release(conn, local_id)
        if release:
            with self._driving_lock:
                self._driving.discard(local_id)

    def submit_failed(self, local_id: str, error: BaseException, *, unknown: bool) -> None:
        """The submit ended without a handle: refused (nothing billed) or ``unknown``."""
        state = LocalState.UNKNOWN if unknown else LocalState.REJECTED
        kind = EventKind.UNKNOWN if unknown else EventKind.REJECTED
        self._set_state(local_id, state, kind, error=error)

    def observed(
        self,
        local_id: str,
        status: JobStatus,
        previous: JobStatus | None,
        *,
        release: bool = False,
        kind: EventKind = EventKind.STATUS,
    ) -> None:
        """A poll's status (or a signed callback's: ``kind``); written only when the state
        or the provider's word changed.

        Progress alone is not written: it is shown live, and a job that reports it would
        otherwise cost a write at every poll. Each poll also keeps this process's lease
        alive (written when half of it is spent); ``release`` gives it up in the same write.
        """
        if previous is not None and (previous.state, previous.raw_status) == (
            status.state,
            status.raw_status,
        ):
            if release or self._lease_half_spent(local_id):
                with self._db.write() as conn:
                    self._keep_or_release(conn, local_id, release)
                self._forget(local_id, release)
            return
        state = LocalState.of(status.state)
        message = status.error.message if status.error else None
        with self._db.write() as conn:
            # A downloaded job stays downloaded when a later poll fetches a fresh URL, and a
            # job that ended never runs again: a late callback, or a cancel answered for a job
            # already over, can say "processing" after the provider's final word.
            sets = [
                "state = CASE WHEN state = 'downloaded' THEN state "
                f"WHEN state IN ({_OVER}) AND ? IN ('queued', 'running') THEN state ELSE ? END",
                "updated_at = ?",
            ]
            values: list[Any] = [state.value, state.value, self._now()]
            if status.result is not None:
                sets.append(
                    "result_json = ?, result_url = ?, result_expires_at = ?, billed_amount = ?, "
                    "billed_unit = ?, billed_usd = ?"
                )
                values += self._result_columns(status.result)
            if message is not None:
                sets.append("error_class = ?, error_message = ?")
                values += ["JobFailed" if status.state is JobState.FAILED else None, scrub(message)]
            conn.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE local_id = ?", (*values, local_id)
            )
            self._event(
                conn, local_id, kind, state, raw=status.raw_status,
                progress=status.progress, error=message,
            )
            self._keep_or_release(conn, local_id, release)
        self._forget(local_id, release)

    def callback_hint(self, local_id: str, status: JobStatus) -> None:
        """An unsigned callback: noted, so that a wait polls the job at once, but the job's
        record is left to that poll (anyone could have sent it)."""
        with self._db.write() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE local_id = ?", (local_id,)).fetchone()
            if row is not None:
                self._event(
                    conn, local_id, EventKind.CALLBACK_HINT, LocalState(row[0]),
                    raw=status.raw_status,
                )

    @staticmethod
    def _result_columns(result: JobResult) -> list[Any]:
        billed = result.billed
        return [
            scrub(dumps(result)),
            scrub(result.video_url),
            timestamp(result.expires_at) if result.expires_at else None,
            text_of(billed.amount) if billed else None,
            billed.unit if billed else None,
            text_of(billed.usd) if billed else None,
        ]

    def step_failed(self, local_id: str, error: BaseException) -> None:
        """A step failed without changing where the job stands (a timeout, a download)."""
        job = self.get(local_id)
        self._set_state(local_id, job.state, EventKind.ERROR, error=error)

    def set_output(self, local_id: str, output: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET output_path = ?, updated_at = ? WHERE local_id = ?",
                (output, self._now(), local_id),
            )

    def downloaded(
        self, local_id: str, path: Path, size: int, sha256: str, *, release: bool = False
    ) -> None:
        """The video is saved; ``release`` gives up the lease in the same write."""
        state = LocalState.DOWNLOADED
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, output_path = ?, output_size = ?, output_sha256 = ?, "
                "error_class = NULL, error_message = NULL, updated_at = ? WHERE local_id = ?",
                (state.value, str(path), size, sha256, self._now(), local_id),
            )
            self._event(conn, local_id, EventKind.DOWNLOADED, state)
            if release:
                self._release(conn, local_id)
        self._forget(local_id, release)

    def reconciled(self, local_id: str, handle: JobHandle | None, how: str) -> None:
        """Adopt ``handle`` as the job the lost submit created, or (None) mark it never
        accepted, so resuming submits it."""
        state = LocalState.QUEUED if handle is not None else LocalState.NOT_SUBMITTED
        with self._db.write() as conn:
            if handle is not None:
                conn.execute(
                    "UPDATE jobs SET provider_job_id = ?, handle_json = ? WHERE local_id = ?",
                    (handle.job_id, scrub(handle.to_json()), local_id),
                )
            conn.execute(
                "UPDATE jobs SET state = ?, error_class = NULL, error_message = NULL, "
                "updated_at = ? WHERE local_id = ?",
                (state.value, self._now(), local_id),
            )
            self._event(conn, local_id, EventKind.RECONCILED, state, error=how)

    def _set_state(
        self, local_id: str, state: LocalState, kind: EventKind, *, error: BaseException
    ) -> None:
        message = scrub(str(error.message if isinstance(error, LipbridgeError) else error))
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, error_class = ?, error_message = ?, updated_at = ? "
                "WHERE local_id = ?",
                (state.value, type(error).__name__, message, self._now(), local_id),
            )
            self._event(conn, local_id, kind, state, error=f"{type(error).__name__}: {message}")

    def _event(
        self,
        conn: sqlite3.Connection,
        local_id: str,
        kind: EventKind,
        state: LocalState,
        *,
        raw: str | None = None,
        progress: float | None = None,
        error: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (local_id, at, kind, state, raw_status, progress, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (local_id, self._now(), kind.value, state.value, raw, progress, error),
        )

    def _lapse_orphaned_submits(self) -> None:
        """A submit whose process died before the answer was recorded may have been
        accepted: it becomes ``unknown``, to be reconciled, never resent blindly."""
        with self._db.read() as conn:
            rows = conn.execute(  # a literal state, so that the small index jobs_open serves
                "SELECT local_id, lease_owner, lease_expires_at FROM jobs "
                "WHERE state = 'submitting'"
            ).fetchall()
        now = self.clock.now()
        orphans = [
            local_id
            for local_id, owner, expires in rows
            if owner != str(self.owner)
            and held_by_other(owner, parse_timestamp(expires), self.owner, now) is None
        ]
        for local_id in orphans:
            self.orphaned(local_id)

    def orphaned(self, local_id: str) -> None:
        """A ``submitting`` job whose submitter is gone becomes ``unknown``."""
        why = "the process submitting it ended before the answer was recorded"
        with self._db.write() as conn:
            changed = conn.execute(
                "UPDATE jobs SET state = ?, error_class = 'SubmitOutcomeUnknown', "
                "error_message = ?, updated_at = ? WHERE local_id = ? AND state = ?",
                (
                    LocalState.UNKNOWN.value, why, self._now(), local_id,
                    LocalState.SUBMITTING.value,
                ),
            ).rowcount
            if changed:
                self._event(conn, local_id, EventKind.UNKNOWN, LocalState.UNKNOWN, error=why)
