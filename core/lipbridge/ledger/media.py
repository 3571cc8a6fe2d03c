"""The ledger's record of local media: uploads kept for reuse, and each job's routes.

An upload (to a provider's own storage, or staged to the user's) is written as soon as
it succeeds, before the submit that uses it, so that a crash between the two does not
make the next attempt upload the file again. Its reference is kept whole, presigned
signature and all, because reusing it needs it: like result URLs, it is a bearer secret
for as long as it lives, and the ledger file is to be treated like the outputs
themselves. Whatever is shown (``LedgerJob.routes``, ``jobs show``, messages, logs) has
the URL's query masked (:func:`lipbridge.redact.mask_url`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence

from attrs import frozen

from lipbridge.context import Clock
from lipbridge.ledger.database import Database
from lipbridge.ledger.queries import parse_timestamp, timestamp
from lipbridge.ledger.records import MediaRoute, Route
from lipbridge.models import JobRequest
from lipbridge.redact import scrub


@frozen(kw_only=True)
class StoredUpload:
    """An upload the ledger holds: what to send, and until when it is valid."""

    reference: str
    location: str | None
    expires_at: dt.datetime | None


class LedgerMedia:
    """Uploads and routes: the local-media half of :class:`~lipbridge.ledger.Ledger`."""

    _db: Database
    clock: Clock

    def record_upload(
        self,
        *,
        sha256: str,
        route: Route,
        target: str,
        uploaded: StoredUpload,
        size: int,
        media_type: str,
        path: str,
    ) -> None:
        """An upload that succeeded, committed before any submit uses it."""
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO uploads (sha256, route, target, reference, location, expires_at, "
                "created_at, size, media_type, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sha256, route.value, target, scrub(uploaded.reference), uploaded.location,
                    timestamp(uploaded.expires_at) if uploaded.expires_at else None,
                    timestamp(self.clock.now()), size, media_type, path,
                ),
            )

    def reusable_upload(
        self,
        sha256: str,
        route: Route,
        target: str,
        *,
        valid_until: dt.datetime,
        undated_since: dt.datetime,
    ) -> StoredUpload | None:
        """The newest upload of this content to ``target`` that is still valid at
        ``valid_until``; one without an expiry counts only if made after ``undated_since``."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT reference, location, expires_at FROM uploads WHERE sha256 = ? AND "
                "route = ? AND target = ? AND (expires_at > ? OR (expires_at IS NULL AND "
                "created_at > ?)) ORDER BY created_at DESC LIMIT 1",
                (sha256, route.value, target, timestamp(valid_until), timestamp(undated_since)),
            ).fetchone()
        if row is None:
            return None
        return StoredUpload(reference=row[0], location=row[1], expires_at=parse_timestamp(row[2]))

    def set_routes(self, local_id: str, routes: Sequence[MediaRoute], sent: JobRequest) -> None:
        """The routes of a job submitted again (the ones its first submit took go)."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM job_media WHERE local_id = ?", (local_id,))
            self._write_routes(conn, local_id, routes, sent)

    @staticmethod
    def _write_routes(
        conn: sqlite3.Connection, local_id: str, routes: Iterable[MediaRoute], sent: JobRequest
    ) -> None:
        """Each route with the reference ``sent`` has in the route's field (None inline)."""
        conn.executemany(
            "INSERT INTO job_media (local_id, field, path, route, size, sha256, target, "
            "reference, expires_at, reused) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    local_id, r.field, r.path, r.route.value, r.size, r.sha256, r.target,
                    None if r.route is Route.INLINE else scrub(str(getattr(sent, r.field))),
                    timestamp(r.expires_at) if r.expires_at else None, int(r.reused),
                )
                for r in routes
            ],
        )

    def sent_references(self, local_id: str) -> dict[str, str]:
        """What the job's submit sent in place of each local path, by field (whole)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT field, reference FROM job_media WHERE local_id = ? "
                "AND reference IS NOT NULL",
                (local_id,),
            ).fetchall()
        return {field: reference for field, reference in rows}

