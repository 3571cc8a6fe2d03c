"""The ledger's tables and the migrations that build them, one version at a time.

``MIGRATIONS[n]`` takes a ledger from version ``n`` to ``n + 1``; version 0 is an empty
file. Each runs in one transaction with the version bump, so a ledger is always at a
version some lipbridge wrote. Append new migrations; never edit a published one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: jobs, their events, and the version row.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE jobs (
        local_id TEXT PRIMARY KEY,  -- a ULID: ordered by creation time
        provider TEXT NOT NULL,
        model TEXT,
        request_json TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        estimate_json TEXT,
        estimate_amount TEXT,
        estimate_unit TEXT,
        estimate_usd TEXT,
        provider_job_id TEXT,
        handle_json TEXT,
        result_json TEXT,
        result_url TEXT,
        result_expires_at TEXT,
        billed_amount TEXT,
        billed_unit TEXT,
        billed_usd TEXT,
        output_path TEXT,
        output_size INTEGER,
        output_sha256 TEXT,
        error_class TEXT,
        error_message TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        lease_owner TEXT,
        lease_expires_at TEXT
    ) WITHOUT ROWID;
    CREATE INDEX jobs_provider_job ON jobs (provider, provider_job_id)
        WHERE provider_job_id IS NOT NULL;
    -- Only the jobs with something left to do: small, whatever the ledger's size.
    CREATE INDEX jobs_open ON jobs (state)
        WHERE state IN ('submitting', 'unknown', 'not_submitted', 'queued', 'running',
                        'succeeded');
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        local_id TEXT NOT NULL REFERENCES jobs (local_id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        raw_status TEXT,
        progress REAL,
        error TEXT
    );
    CREATE INDEX events_job ON events (local_id, seq);
    """,
    # 1 -> 2: batches, their rows, and each job's place in its batch.
    """
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        fingerprint TEXT NOT NULL,  -- of its rows: running the same batch again resumes it
        source TEXT NOT NULL,
        settings_json TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX batches_fingerprint ON batches (fingerprint);
    CREATE TABLE batch_rows (
        batch_id TEXT NOT NULL REFERENCES batches (batch_id),
        line INTEGER NOT NULL,
        row_json TEXT NOT NULL,
        PRIMARY KEY (batch_id, line)
    ) WITHOUT ROWID;
    ALTER TABLE jobs ADD COLUMN batch_id TEXT;
    ALTER TABLE jobs ADD COLUMN batch_line INTEGER;
    CREATE INDEX jobs_batch ON jobs (batch_id, batch_line) WHERE batch_id IS NOT NULL;
    """,
    # 2 -> 3: local files uploaded (or staged) once and reused, and the route each of a
    # job's local inputs took.
    """
    CREATE TABLE uploads (
        seq INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,       -- the file's content: the key it is reused under
        route TEXT NOT NULL,        -- 'upload' (the provider's API) or 'staged'
        target TEXT NOT NULL,       -- the provider, or the staging target
        reference TEXT NOT NULL,    -- what a submit sends; a presigned URL kept whole
        location TEXT,              -- where a staged file lives (no credentials)
        expires_at TEXT,
        created_at TEXT NOT NULL,
        size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        path TEXT NOT NULL          -- the file it was made from, for display
    );
    CREATE INDEX uploads_content ON uploads (sha256, route, target, created_at);
    CREATE TABLE job_media (
        local_id TEXT NOT NULL REFERENCES jobs (local_id),
        field TEXT NOT NULL,        -- 'video' or 'audio'
        path TEXT NOT NULL,         -- as the request gave it
        route TEXT NOT NULL,        -- 'upload', 'inline' or 'staged'
        size INTEGER NOT NULL,
        sha256 TEXT,
        target TEXT,
        reference TEXT,             -- what the submit sent in place of the path
        expires_at TEXT,
        reused INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (local_id, field)
    ) WITHOUT ROWID;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
APPLICATION_ID = 0x4C50424C  # "LPBL" in the SQLite header: this file is a lipbridge ledger


def version_of(conn: sqlite3.Connection) -> int | None:
    """The file's schema version: 0 when empty, None when it is some other database."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if not tables and app_id == 0:
        return 0
    if app_id != APPLICATION_ID or "meta" not in tables:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row is not None and str(row[0]).isdigit() else None


def migrate(conn: sqlite3.Connection, start: int, migrations: tuple[str, ...] = MIGRATIONS) -> None:
    """Apply ``migrations[start:]`` in order, each atomically with its version bump."""
    for version in range(start, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migrations[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(version + 1),),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """``executescript`` would commit the open transaction; split and run one by one."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
