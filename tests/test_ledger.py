"""The job ledger file: schema and migrations, bad files, leases, concurrency, secrets."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from conftest import FakeClock

from lipbridge.errors import InvalidRequest, JobBusy, LedgerError, SubmitOutcomeUnknown
from lipbridge.ledger import (
    SCHEMA_VERSION,
    EventKind,
    Ledger,
    LocalState,
    default_path,
    is_local_id,
    new_local_id,
)
from lipbridge.ledger.costs import cost_lines
from lipbridge.ledger.database import Database
from lipbridge.ledger.leases import Owner
from lipbridge.ledger.schema import APPLICATION_ID, MIGRATIONS, migrate
from lipbridge.models import (
    BilledUsage,
    CostEstimate,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
)
from lipbridge.redact import register

REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "jobs.sqlite"


@pytest.fixture
def ledger(path: Path, clock: FakeClock) -> Iterator[Ledger]:
    with Ledger(path, clock=clock) as opened:
        yield opened


def handle(job_id: str = "j1", clock: FakeClock | None = None) -> JobHandle:
    now = clock.now() if clock else dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)
    return JobHandle(provider="acme", job_id=job_id, created_at=now)


def succeeded(url: str = "https://cdn.invalid/out.mp4", **billed: str) -> JobStatus:
    return JobStatus(
        state=JobState.SUCCEEDED,
        raw_status="done",
        progress=100,
        result=JobResult(
            video_url=url,
            billed=BilledUsage(amount=Decimal(billed["amount"]), unit=billed["unit"])
            if billed
            else None,
        ),
    )


# -- ids ------------------------------------------------------------------------------------


def test_local_ids_are_ulids_that_sort_by_creation_time() -> None:
    early = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ids = [new_local_id(early + dt.timedelta(milliseconds=n)) for n in range(50)]
    assert all(is_local_id(i) and len(i) == 26 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert not is_local_id("01jf2q8w3v6z5x4y3a2b1c0d9e")  # lower case is not canonical


# -- the file -------------------------------------------------------------------------------


def test_a_new_ledger_is_created_with_its_folder_at_the_current_version(path: Path) -> None:
    Ledger(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_default_path_is_the_environment_variable_else_the_user_data_dir(
    tmp_path: Path,
) -> None:
    assert default_path({"LIPBRIDGE_LEDGER": str(tmp_path / "x.db")}) == tmp_path / "x.db"
    assert default_path({}) == Path(os.environ["XDG_DATA_HOME"]) / "lipbridge" / "jobs.sqlite"


def _ledger_at(path: Path, version: int) -> None:
    """A ledger file as lipbridge with schema ``version`` left it, with one job in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, 0, MIGRATIONS[:version])
    if version >= 1:
        conn.execute(
            "INSERT INTO jobs (local_id, provider, request_json, fingerprint, state, created_at,"
            " updated_at) VALUES ('01KDVDNA00EKFTPD65NQ38VNZ7', 'acme', ?, 'f', 'queued', "
            "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            ('{"video": "https://cdn.invalid/v.mp4", "audio": "https://cdn.invalid/a.wav"}',),
        )
    conn.close()


@pytest.mark.parametrize("version", range(SCHEMA_VERSION + 1))
def test_every_older_version_migrates_to_the_current_one_keeping_its_jobs(
    path: Path, version: int
) -> None:
    path.parent.mkdir()
    _ledger_at(path, version)
    with Ledger(path) as ledger:
        versions = sqlite3.connect(path).execute("SELECT value FROM meta").fetchall()
        assert versions == [(str(SCHEMA_VERSION),)]
        if version >= 1:
            assert ledger.get("01KDVDNA00EKFTPD65NQ38VNZ7").state is LocalState.QUEUED


def test_a_failing_migration_leaves_the_file_at_its_old_version(path: Path) -> None:
    Ledger(path).close()
    broken = (*MIGRATIONS, "CREATE TABLE later (id TEXT PRIMARY KEY);", "NOT SQL AT ALL;")
    with pytest.raises(LedgerError, match="syntax error"):
        Database(path, migrations=broken)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION + 1)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "later" in tables  # the good migration stays; the bad one left no trace


def test_a_ledger_from_a_newer_lipbridge_is_refused_untouched(path: Path) -> None:
    Ledger(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    newer = str(SCHEMA_VERSION + 5)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (newer,))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="newer lipbridge") as info:
        Ledger(path)
    assert str(path) in info.value.message and info.value.path == str(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["text", "damaged-header"],
)
def test_a_corrupt_ledger_is_refused_with_its_name_and_left_as_it_is(
    path: Path, content: bytes
) -> None:
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(LedgerError, match="corrupt") as info:
        Ledger(path)
    assert str(path) in info.value.message
    assert path.read_bytes() == content and sorted(p.name for p in path.parent.iterdir()) == [
        "jobs.sqlite"
    ]


def test_another_sqlite_database_is_not_taken_for_a_ledger(path: Path) -> None:
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="not a lipbridge job ledger"):
        Ledger(path)
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [
        ("photos",)
    ]


def test_a_folder_is_not_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="is not a file"):
        Ledger(tmp_path)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` and its files made read-only, even for root (which ignores modes)."""
    items = [*folder.iterdir(), folder]
    if os.geteuid() != 0:
        for item in items:
            item.chmod(0o555 if item.is_dir() else 0o444)
        try:
            yield
        finally:
            for item in items:
                item.chmod(0o755 if item.is_dir() else 0o644)
        return
    if shutil.which("chattr") is None or subprocess.run(
        ["chattr", "+i", *map(str, items)], capture_output=True
    ).returncode:
        subprocess.run(["chattr", "-i", *map(str, items)], capture_output=True)
        pytest.skip("root, and no immutable files on this file system to make one read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, items)], check=True)


def test_a_read_only_ledger_is_refused_naming_the_file(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.begin("acme", REQUEST)
    with read_only(path.parent), pytest.raises(LedgerError) as info:
        Ledger(path).begin("acme", REQUEST)
    assert info.value.path == str(path)
    assert f"the job ledger {path}" in info.value.message
    assert "read-only" in info.value.message or "writable" in info.value.message
    with Ledger(path) as ledger:
        assert len(ledger.list()) == 1


def test_a_full_disk_fails_the_write_naming_the_file_and_keeps_what_was_there(
    path: Path,
) -> None:
    Ledger(path).close()
    code = (
        "import os, resource, signal\n"
        "from lipbridge.ledger import Ledger\n"
        "from lipbridge.models import JobRequest\n"
        f"ledger = Ledger({str(path)!r})\n"
        "first = ledger.begin('acme', JobRequest(video='https://x.invalid/v', audio='https://x.invalid/a'))\n"
        "print(first.local_id)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"size = max(os.path.getsize(p) for p in [{str(path)!r}, {str(path)!r} + '-wal'])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))\n"
        "big = JobRequest(video='https://x.invalid/v', audio='https://x.invalid/a', "
        "options={'pad': 'x' * 100000})\n"
        "ledger.begin('acme', big)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert f"LedgerError: the job ledger {path} could not be written" in done.stderr
    with Ledger(path) as ledger:
        assert [j.local_id for j in ledger.list()] == [done.stdout.strip()]


# -- recording ------------------------------------------------------------------------------


def test_a_job_is_recorded_from_intent_to_download(ledger: Ledger, clock: FakeClock) -> None:
    estimate = CostEstimate(provider="acme", model="acme-1", amount=Decimal("20"), unit="credits")
    job = ledger.begin("acme", REQUEST, estimate=estimate, output="out.mp4")
    assert job.state is LocalState.SUBMITTING and job.lease_owner == str(ledger.owner)
    ledger.submitted(job.local_id, handle(clock=clock))
    running = JobStatus(state=JobState.RUNNING, raw_status="processing", progress=40)
    ledger.observed(job.local_id, running, None)
    ledger.observed(job.local_id, running, running)  # nothing new: no event
    further = JobStatus(state=JobState.RUNNING, raw_status="processing", progress=80)
    ledger.observed(job.local_id, further, running)  # progress alone: no event either
    ledger.observed(job.local_id, succeeded(amount="20", unit="credits"), running)
    assert not ledger.get(job.local_id).finished  # a file was asked for
    ledger.downloaded(job.local_id, Path("out.mp4"), 1234, "ab" * 32)
    stored = ledger.get(job.local_id)
    assert stored.state is LocalState.DOWNLOADED and stored.finished
    assert stored.provider_job_id == "j1" and stored.estimate == estimate
    assert stored.result is not None and stored.result.billed is not None
    assert (stored.output_size, stored.output_sha256) == (1234, "ab" * 32)
    kinds = [(e.kind, e.state, e.raw_status) for e in ledger.events(job.local_id)]
    assert kinds == [
        (EventKind.INTENT, LocalState.SUBMITTING, None),
        (EventKind.SUBMITTED, LocalState.QUEUED, None),
        (EventKind.STATUS, LocalState.RUNNING, "processing"),
        (EventKind.STATUS, LocalState.SUCCEEDED, "done"),
        (EventKind.DOWNLOADED, LocalState.DOWNLOADED, None),
    ]


def test_the_download_record_can_give_up_the_lease_in_the_same_write(ledger: Ledger) -> None:
    job = ledger.begin("acme", REQUEST)
    ledger.submitted(job.local_id, handle())
    ledger.observed(job.local_id, succeeded(), None)
    ledger.downloaded(job.local_id, Path("o.mp4"), 1, "0" * 64, release=True)
    stored = ledger.get(job.local_id)
    assert stored.state is LocalState.DOWNLOADED and stored.lease_owner is None


def test_a_fresh_result_url_after_download_keeps_the_job_downloaded(ledger: Ledger) -> None:
    job = ledger.begin("acme", REQUEST)
    ledger.submitted(job.local_id, handle())
    ledger.observed(job.local_id, succeeded("https://cdn.invalid/old.mp4"), None)
    ledger.downloaded(job.local_id, Path("o.mp4"), 1, "0" * 64)
    ledger.observed(job.local_id, succeeded("https://cdn.invalid/new.mp4"), None)
    stored = ledger.get(job.local_id)
    assert stored.state is LocalState.DOWNLOADED
    assert stored.result is not None and stored.result.video_url.endswith("new.mp4")


def test_a_failed_status_keeps_its_error(ledger: Ledger) -> None:
    job = ledger.begin("acme", REQUEST)
    ledger.submitted(job.local_id, handle())
    failed = JobStatus(
        state=JobState.FAILED, raw_status="error", error=JobError(message="no face found")
    )
    ledger.observed(job.local_id, failed, None)
    stored = ledger.get(job.local_id)
    assert (stored.state, stored.error_message) == (LocalState.FAILED, "no face found")
    assert stored.finished


def test_a_refused_and_an_unknown_submit_are_told_apart(ledger: Ledger) -> None:
    refused, unknown = ledger.begin("acme", REQUEST), ledger.begin("acme", REQUEST)
    ledger.submit_failed(refused.local_id, InvalidRequest("bad video"), unknown=False)
    lost = SubmitOutcomeUnknown("connection reset", details={})
    ledger.submit_failed(unknown.local_id, lost, unknown=True)
    assert ledger.get(refused.local_id).state is LocalState.REJECTED
    assert ledger.get(refused.local_id).finished
    stored = ledger.get(unknown.local_id)
    assert (stored.state, stored.error_class) == (LocalState.UNKNOWN, "SubmitOutcomeUnknown")
    assert not stored.finished
    assert [j.local_id for j in ledger.unfinished()] == [unknown.local_id]


def test_a_job_is_found_by_a_unique_prefix_of_its_id(ledger: Ledger) -> None:
    job = ledger.begin("acme", REQUEST)
    assert ledger.get(job.local_id[:10].lower()).local_id == job.local_id
    with pytest.raises(InvalidRequest, match="not a local job id"):
        ledger.get("j1")
    with pytest.raises(InvalidRequest, match="no job 0000000000"):
        ledger.get("0000000000")
    ledger.begin("acme", REQUEST)
    with pytest.raises(InvalidRequest, match="more than one"):
        ledger.get(job.local_id[:4])


def test_listing_filters_by_provider_state_and_time(ledger: Ledger, clock: FakeClock) -> None:
    first = ledger.begin("acme", REQUEST)
    clock.sleep(3600)
    second = ledger.begin("globex", REQUEST)
    ledger.submitted(second.local_id, handle("g1"))
    assert [j.local_id for j in ledger.list()] == [second.local_id, first.local_id]
    assert [j.local_id for j in ledger.list(provider="acme")] == [first.local_id]
    assert [j.local_id for j in ledger.list(states=(LocalState.QUEUED,))] == [second.local_id]
    since = clock.now() - dt.timedelta(minutes=5)
    assert [j.local_id for j in ledger.list(since=since)] == [second.local_id]
    assert len(ledger.list(limit=1)) == 1
    assert ledger.find("globex", "g1") is not None and ledger.find("acme", "g1") is None


def test_a_registered_key_never_reaches_the_file(path: Path, clock: FakeClock) -> None:
    key = "sk-live-ledger-secret-0123456789"
    register(key)
    with Ledger(path, clock=clock) as ledger:
        job = ledger.begin("acme", attrs.evolve(REQUEST, options={"k": key}))
        ledger.submit_failed(job.local_id, InvalidRequest(f"bad key {key}"), unknown=False)
    data = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert key.encode() not in data


# -- leases ---------------------------------------------------------------------------------


def test_a_leased_job_is_not_driven_by_another_ledger_until_released(
    path: Path, clock: FakeClock
) -> None:
    with Ledger(path, clock=clock) as mine, Ledger(path, clock=clock) as theirs:
        job = mine.begin("acme", REQUEST)
        with pytest.raises(JobBusy, match=f"process {os.getpid()}"):
            theirs.acquire(job.local_id)
        mine.release(job.local_id)
        with theirs.driving(job.local_id):
            with pytest.raises(JobBusy):
                mine.acquire(job.local_id)
            with pytest.raises(JobBusy, match="another thread"):
                theirs.acquire(job.local_id)
        mine.acquire(job.local_id)


def test_a_lease_from_another_host_lapses_at_its_expiry(path: Path, clock: FakeClock) -> None:
    with Ledger(path, clock=clock) as ledger:
        job = ledger.begin("acme", REQUEST)
        ledger.release(job.local_id)
        expiry = clock.now() + dt.timedelta(seconds=60)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(
            "UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE local_id = ?",
            (str(Owner("elsewhere", 4242, "1", "t")), expiry.isoformat(), job.local_id),
        )
        conn.close()
        clock.sleep(59)
        with pytest.raises(JobBusy, match="process 4242 on elsewhere"):
            ledger.acquire(job.local_id)
        clock.sleep(2)
        ledger.acquire(job.local_id)


def test_a_live_process_on_this_host_keeps_its_lease_past_the_expiry(
    path: Path, clock: FakeClock
) -> None:
    """However long its download takes: only its end, or its death, frees the job."""
    with Ledger(path, clock=clock, lease_seconds=60) as mine, Ledger(path, clock=clock) as theirs:
        job = mine.begin("acme", REQUEST)
        clock.sleep(3600)
        with pytest.raises(JobBusy):
            theirs.acquire(job.local_id)
        mine.release(job.local_id)
        theirs.acquire(job.local_id)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _lease_to(path: Path, local_id: str, owner: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE jobs SET lease_owner = ? WHERE local_id = ?", (owner, local_id))
    conn.close()


def test_the_lease_of_a_killed_process_on_this_host_is_void_at_once(
    path: Path, clock: FakeClock
) -> None:
    with Ledger(path, clock=clock) as ledger:
        job = ledger.begin("acme", REQUEST)
        ledger.submitted(job.local_id, handle())
        ledger.release(job.local_id)
        ledger.acquire(job.local_id)
        ledger._driving.clear()  # as if this object were another process...
        dead = Owner(ledger.owner.host, _dead_pid(), "", "dead")
        _lease_to(path, job.local_id, str(dead))  # ...that was killed holding the lease
        ledger.acquire(job.local_id)
        assert ledger.get(job.local_id).lease_owner == str(ledger.owner)


def test_a_reused_pid_does_not_keep_a_dead_process_s_lease(
    path: Path, clock: FakeClock
) -> None:
    me = Owner.this_process()
    if not me.start:
        pytest.skip("no process start times here (/proc)")
    with Ledger(path, clock=clock) as ledger:
        job = ledger.begin("acme", REQUEST)
        ledger._driving.clear()
        earlier = Owner(me.host, me.pid, str(int(me.start) - 1), "old")  # same pid, gone
        _lease_to(path, job.local_id, str(earlier))
        ledger.acquire(job.local_id)


def test_a_submit_left_by_a_killed_process_is_unknown_on_the_next_start(
    path: Path, clock: FakeClock
) -> None:
    with Ledger(path, clock=clock) as ledger:
        job = ledger.begin("acme", REQUEST)
        alive = ledger.begin("acme", REQUEST)
    _lease_to(path, job.local_id, str(Owner(Owner.this_process().host, _dead_pid(), "", "x")))
    _lease_to(path, alive.local_id, str(Owner("elsewhere", 1, "", "x")))
    with Ledger(path, clock=clock) as ledger:
        assert ledger.get(job.local_id).state is LocalState.UNKNOWN
        assert ledger.events(job.local_id)[-1].kind is EventKind.UNKNOWN
        assert ledger.get(alive.local_id).state is LocalState.SUBMITTING  # its lease is live


def test_threads_and_processes_writing_at_once_lose_nothing(path: Path) -> None:
    Ledger(path).close()
    code = (
        "import sys\n"
        "from lipbridge.ledger import Ledger\n"
        "from lipbridge.models import JobRequest\n"
        f"ledger = Ledger({str(path)!r})\n"
        "for _ in range(100):\n"
        "    ledger.begin('globex', JobRequest(video='https://x.invalid/v', audio='https://x.invalid/a'))\n"
    )
    others = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    with Ledger(path) as ledger:

        def write() -> None:
            for _ in range(50):
                job = ledger.begin("acme", REQUEST)
                ledger.release(job.local_id)

        threads = [threading.Thread(target=write) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(p.wait(timeout=120) == 0 for p in others)
        assert len(ledger.list(provider="acme")) == 200
        assert len(ledger.list(provider="globex")) == 200


# -- costs ----------------------------------------------------------------------------------


def test_costs_sum_per_unit_and_never_count_an_unknown_as_zero(
    ledger: Ledger, clock: FakeClock
) -> None:
    priced = CostEstimate(
        provider="acme", model="acme-1", amount=Decimal("20"), unit="credits", usd=Decimal("0.2")
    )
    jobs = [ledger.begin("acme", REQUEST, estimate=priced) for _ in range(2)]
    unpriced = ledger.begin(
        "acme", REQUEST, estimate=CostEstimate.unknown("acme", "acme-1", "no price")
    )
    refused = ledger.begin("acme", REQUEST, estimate=priced)
    ledger.submit_failed(refused.local_id, InvalidRequest("no"), unknown=False)
    for n, job in enumerate([*jobs, unpriced]):
        ledger.submitted(job.local_id, handle(f"j{n}"))
    ledger.observed(jobs[0].local_id, succeeded(amount="21", unit="credits"), None)
    (line,) = cost_lines(ledger.cost_rows(), "provider")
    assert line.key == "acme" and line.jobs == 3  # the refused submit was never billed
    assert line.estimated == {"credits": Decimal("40")} and line.unknown_estimates == 1
    assert line.estimated_usd == Decimal("0.4")
    assert line.billed == {"credits": Decimal("21")} and line.not_billed == 2
    (day,) = cost_lines(ledger.cost_rows(), "day")
    assert day.key == clock.now().date().isoformat()
    with pytest.raises(InvalidRequest, match="allowed: provider, model, day"):
        cost_lines([], "week")
