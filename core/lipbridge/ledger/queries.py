"""Reading the ledger: one job, a listing, events, what is left to do, costs."""

from __future__ import annotations

import builtins
import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lipbridge.convert import loads
from lipbridge.errors import InvalidRequest
from lipbridge.ledger.database import Database
from lipbridge.ledger.ids import first_local_id, is_local_id_prefix
from lipbridge.ledger.records import (
    EventKind,
    JobSummary,
    LedgerEvent,
    LedgerJob,
    LocalState,
    MediaRoute,
    Route,
)
from lipbridge.models import CostEstimate, JobHandle, JobRequest, JobResult
from lipbridge.redact import mask_url

_SUMMARY = (
    "local_id, provider, model, state, provider_job_id, created_at, updated_at, "
    "output_path, error_class, error_message"
)


# ``jobs list``'s two forms, rendered in SQL: a line per job without a Python object each.
_LINES = {
    "text": "printf('%s  %-10s %-14s %s', local_id, provider, state, "
    "coalesce(provider_job_id, '-')) || char(10)",
    "json": "json_object('local_id', local_id, 'provider', provider, 'model', model, "
    "'state', state, 'provider_job_id', provider_job_id, 'created_at', created_at, "
    "'updated_at', updated_at, 'output_path', output_path, 'error_class', error_class, "
    "'error_message', error_message) || char(10)",
}
TEXT_HEADER = f"{'local id':<26}  {'provider':<10} {'state':<14} provider job\n"


def _listing(
    columns: str,
    provider: str | None,
    states: tuple[LocalState, ...],
    since: dt.datetime | None,
    limit: int | None,
) -> tuple[str, builtins.list[str]]:
    where, args = ["1"], []
    if provider is not None:
        where.append("provider = ?")
        args.append(provider)
    if states:
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        args += [s.value for s in states]
    if since is not None:  # local ids sort by creation time
        where.append("local_id >= ?")
        args.append(first_local_id(since))
    sql = f"SELECT {columns} FROM jobs WHERE {' AND '.join(where)} ORDER BY local_id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, args


def timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def parse_timestamp(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def text_of(value: object) -> str | None:
    return None if value is None else str(value)


def routes_of(
    conn: sqlite3.Connection, jobs: str, args: Sequence[object]
) -> dict[str, builtins.list[MediaRoute]]:
    """The routes of the jobs whose local ids the SQL ``jobs`` selects, by local id, as
    they may be shown (references masked)."""
    found: dict[str, builtins.list[MediaRoute]] = {}
    for row in conn.execute(
        "SELECT local_id, field, path, route, size, sha256, target, reference, expires_at, "
        f"reused FROM job_media WHERE local_id IN ({jobs}) ORDER BY local_id, field DESC",
        list(args),
    ):
        found.setdefault(row[0], []).append(
            MediaRoute(
                field=row[1], path=row[2], route=Route(row[3]), size=row[4], sha256=row[5],
                target=row[6], reference=mask_url(row[7]) if row[7] else None,
                expires_at=parse_timestamp(row[8]), reused=bool(row[9]),
            )
        )
    return found


class LedgerQueries:
    """The reading half of :class:`~lipbridge.ledger.Ledger`."""

    path: Path
    _db: Database

    def get(self, ref: str) -> LedgerJob:
        """The job whose local id is ``ref``, or starts with it when only one does."""
        ref = ref.strip().upper()
        if not is_local_id_prefix(ref):
            raise InvalidRequest(
                f"{ref!r} is not a local job id (26 characters, such as "
                "01JF2Q8W3V6Z5X4Y3A2B1C0D9E, or its first 4 or more)",
                field="job",
            )
        with self._db.read() as conn:
            cursor = conn.execute(
                "SELECT * FROM jobs WHERE local_id >= ? AND local_id < ? LIMIT 2",
                (ref, ref + "~"),
            )
            rows = cursor.fetchall()
            names = [d[0] for d in cursor.description]
            routes = routes_of(conn, "?", [rows[0][0]]) if len(rows) == 1 else {}
        if not rows:
            raise self._no_such_job(ref)
        if len(rows) > 1:
            raise InvalidRequest(
                f"{ref} starts more than one job id in {self.path}; give more of it",
                field="job",
            )
        return _job(dict(zip(names, rows[0], strict=True)), routes)

    def locate(self, handle: JobHandle) -> str | None:
        """The local id of the job ``handle`` names, if the ledger has it (no decoding)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT local_id FROM jobs WHERE local_id = ? OR (provider = ? AND "
                "provider_job_id = ?) ORDER BY local_id = ? DESC LIMIT 1",
                (handle.local_id, handle.provider, handle.job_id, handle.local_id),
            ).fetchone()
        return row[0] if row else None

    def find(self, provider: str, job_id: str) -> LedgerJob | None:
        """The job with this provider job id, if the ledger has it."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT local_id FROM jobs WHERE provider = ? AND provider_job_id = ?",
                (provider, job_id),
            ).fetchone()
        return self.get(row[0]) if row else None

    def known_job_ids(self, provider: str) -> set[str]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT provider_job_id FROM jobs WHERE provider = ? "
                "AND provider_job_id IS NOT NULL",
                (provider,),
            ).fetchall()
        return {row[0] for row in rows}

    def list(
        self,
        *,
        provider: str | None = None,
        states: tuple[LocalState, ...] = (),
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[JobSummary]:
        """Jobs newest first, without decoding their JSON (fast over many rows)."""
        sql, args = _listing(_SUMMARY, provider, states, since, limit)
        with self._db.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [JobSummary.from_row(row) for row in rows]

    def list_lines(
        self,
        form: str,
        *,
        provider: str | None = None,
        states: tuple[LocalState, ...] = (),
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[str]:
        """The listing as lines of ``form`` "text" (columns) or "json" (JSON Lines), made
        by SQLite itself: 100,000 jobs in a fraction of a second."""
        sql, args = _listing(_LINES[form], provider, states, since, limit)
        with self._db.read() as conn:
            return [row[0] for row in conn.execute(sql, args)]

    def events(self, local_id: str) -> builtins.list[LedgerEvent]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT local_id, at, kind, state, raw_status, progress, error FROM events "
                "WHERE local_id = ? ORDER BY seq",
                (local_id,),
            ).fetchall()
        return [
            LedgerEvent(
                local_id=row[0], at=dt.datetime.fromisoformat(row[1]), kind=EventKind(row[2]),
                state=LocalState(row[3]), raw_status=row[4], progress=row[5], error=row[6],
            )
            for row in rows
        ]

    def last_seq(self) -> int:
        """The newest event's sequence number: callbacks after it are news to a wait."""
        with self._db.read() as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def callback_after(self, local_id: str, seq: int) -> tuple[int, EventKind, str] | None:
        """The newest callback event of the job after ``seq``: (its seq, its kind, the
        provider's word it carried)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT seq, kind, coalesce(raw_status, '') FROM events WHERE local_id = ? "
                "AND seq > ? AND kind IN ('callback', 'callback_hint') ORDER BY seq DESC LIMIT 1",
                (local_id, seq),
            ).fetchone()
        return (row[0], EventKind(row[1]), row[2]) if row else None

    def unfinished(self) -> builtins.list[LedgerJob]:
        """Every job with something left to do, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(  # literal states, so that the small index jobs_open serves
                "SELECT local_id FROM jobs WHERE state IN ('submitting', 'unknown', "
                "'not_submitted', 'queued', 'running', 'succeeded') "
                "AND (state != 'succeeded' OR output_path IS NOT NULL) ORDER BY local_id"
            ).fetchall()
        return [self.get(row[0]) for row in rows]

    def cost_rows(self) -> builtins.list[tuple[Any, ...]]:
        """Per job: provider, model, day, state, estimate (amount, unit, usd), billed."""
        with self._db.read() as conn:
            return conn.execute(
                "SELECT provider, model, substr(created_at, 1, 10), state, estimate_amount, "
                "estimate_unit, estimate_usd, billed_amount, billed_unit, billed_usd FROM jobs "
                "ORDER BY local_id"
            ).fetchall()

    # -- batches ------------------------------------------------------------------------------

    def find_batch(self, fingerprint: str) -> str | None:
        """The latest batch with these rows, if one was started before."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT batch_id FROM batches WHERE fingerprint = ? ORDER BY batch_id DESC "
                "LIMIT 1",
                (fingerprint,),
            ).fetchone()
        return row[0] if row else None

    def latest_batch_from(self, source: str) -> str | None:
        """The latest batch run from this manifest (or shorthand), if any."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT batch_id FROM batches WHERE source = ? ORDER BY batch_id DESC LIMIT 1",
                (source,),
            ).fetchone()
        return row[0] if row else None

    def batch(self, ref: str) -> tuple[str, str, dict[str, Any], builtins.list[tuple[int, str]]]:
        """A batch's id, source, settings and rows (line, row JSON), by id or unique start."""
        ref = ref.strip().upper()
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT batch_id, source, settings_json FROM batches WHERE batch_id >= ? "
                "AND batch_id < ? LIMIT 2",
                (ref, ref + "~"),
            ).fetchall()
            if len(found) != 1:
                what = "no batch" if not found else "more than one batch starting with"
                raise InvalidRequest(f"{what} {ref} in the ledger {self.path}", field="batch")
            batch_id, source, settings = found[0]
            rows = conn.execute(
                "SELECT line, row_json FROM batch_rows WHERE batch_id = ? ORDER BY line",
                (batch_id,),
            ).fetchall()
        return batch_id, source, json.loads(settings), [(line, text) for line, text in rows]

    def batch_attempts(self, batch_id: str) -> dict[int, builtins.list[LedgerJob]]:
        """Each row's jobs (its attempts, oldest first), by manifest line."""
        with self._db.read() as conn:
            cursor = conn.execute(
                "SELECT * FROM jobs WHERE batch_id = ? ORDER BY batch_line, local_id",
                (batch_id,),
            )
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            routes = routes_of(
                conn, "SELECT local_id FROM jobs WHERE batch_id = ?", [batch_id]
            )
        attempts: dict[int, builtins.list[LedgerJob]] = {}
        for row in rows:
            job = _job(dict(zip(names, row, strict=True)), routes)
            attempts.setdefault(job.batch_line or 0, []).append(job)
        return attempts

    def _no_such_job(self, ref: str) -> InvalidRequest:
        return InvalidRequest(f"no job {ref} in the ledger {self.path}", field="job")




def _job(row: dict[str, Any], routes: dict[str, builtins.list[MediaRoute]]) -> LedgerJob:
    return LedgerJob(
        local_id=row["local_id"],
        provider=row["provider"],
        model=row["model"],
        request=loads(row["request_json"], JobRequest),
        fingerprint=row["fingerprint"],
        state=LocalState(row["state"]),
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        updated_at=dt.datetime.fromisoformat(row["updated_at"]),
        estimate=loads(row["estimate_json"], CostEstimate) if row["estimate_json"] else None,
        handle=loads(row["handle_json"], JobHandle) if row["handle_json"] else None,
        result=loads(row["result_json"], JobResult) if row["result_json"] else None,
        output_path=row["output_path"],
        output_size=row["output_size"],
        output_sha256=row["output_sha256"],
        error_class=row["error_class"],
        error_message=row["error_message"],
        attempts=row["attempts"],
        lease_owner=row["lease_owner"],
        lease_expires_at=parse_timestamp(row["lease_expires_at"]),
        batch_id=row.get("batch_id"),
        batch_line=row.get("batch_line"),
        routes=tuple(routes.get(row["local_id"], ())),
    )
