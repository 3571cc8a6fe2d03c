"""``client.jobs``: crash-safe submits, run, resume, reconcile and fresh downloads."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from conftest import KEY, FakeClock, make_registry, write_dist
from scripted_server import Reply, ScriptedServer, Seen

from lipbridge import Client, JobFailed, JobRequest, SubmitOutcomeUnknown, WaitTimeout
from lipbridge.errors import InvalidRequest, JobBusy, JobNotFound, LedgerError
from lipbridge.jobs import NeedsReconciling
from lipbridge.ledger import EventKind, Ledger, LocalState

REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite"


@pytest.fixture
def client(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, ledger_path: Path
) -> Iterator[Client]:
    write_dist(standard_site, "lipbridge-finder", {"finder": "lipbridge_testprov:finder"})
    environ = {
        f"LIPBRIDGE_{name.upper()}_{suffix}": value
        for name in ("acme", "keyed", "finder")
        for suffix, value in (("API_KEY", KEY), ("BASE_URL", server.url))
    }
    with Client(
        registry=make_registry(standard_site),
        environ=environ,
        clock=clock,
        rng=random.Random(7),
        ledger=ledger_path,
    ) as c:
        yield c


def accepted(job_id: str = "j1") -> Reply:
    return Reply.json({"id": job_id, "status": "queued"})


def done(server: ScriptedServer, job_id: str = "j1", name: str = "out.mp4") -> Reply:
    return Reply.json(
        {"id": job_id, "status": "done", "progress": 100,
         "output": {"url": f"{server.url}/files/{name}", "duration": 4.0},
         "cost": {"credits": "20"}}
    )


def running(job_id: str = "j1") -> Reply:
    return Reply.json({"id": job_id, "status": "processing", "progress": 40})


def jobs(client: Client) -> Ledger:
    assert client.jobs is not None
    return client.jobs.ledger


# -- submit -----------------------------------------------------------------------------------


def test_the_intent_is_committed_before_the_submit_is_sent(
    client: Client, server: ScriptedServer, ledger_path: Path, clock: FakeClock
) -> None:
    seen_in_ledger: list[tuple[str, str]] = []

    def provider(_: Seen) -> Reply:  # what another process would read at this moment
        with Ledger(ledger_path, clock=clock) as other:
            seen_in_ledger.extend((j.local_id, j.state.value) for j in other.list())
        return accepted()

    server.script("POST", "/v1/jobs", provider)
    handle = client.submit("acme", REQUEST)
    assert seen_in_ledger == [(handle.local_id, "submitting")]
    job = jobs(client).get(handle.local_id or "")
    assert job.state is LocalState.QUEUED and job.handle == handle
    assert job.lease_owner is None  # a bare submit drives nothing afterwards


def test_an_invalid_request_records_nothing_and_sends_nothing(
    client: Client, server: ScriptedServer
) -> None:
    with pytest.raises(InvalidRequest):
        client.submit("acme", JobRequest(video="https://cdn.invalid/v.mp4", audio="ftp://x"))
    assert jobs(client).list() == [] and server.seen == []


def test_a_lost_answer_leaves_an_unknown_job_that_names_itself(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", Reply(reset="after_body"))
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("acme", REQUEST)
    local_id = info.value.details["local_id"]
    job = jobs(client).get(local_id)
    assert job.state is LocalState.UNKNOWN and job.lease_owner is None
    assert jobs(client).events(local_id)[-1].kind is EventKind.UNKNOWN


def test_a_refused_submit_is_rejected_and_never_resumed(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"error": {"message": "no credits"}}, 402))
    with pytest.raises(Exception, match="no credits"):
        client.submit("acme", REQUEST)
    (job,) = jobs(client).list()
    assert job.state is LocalState.REJECTED
    assert client.jobs is not None and client.jobs.resume_all() == []
    assert len(server.requests("POST")) == 1


def test_an_interrupt_during_the_submit_leaves_it_unknown(
    client: Client, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(client.transport, "send", interrupted)
    with pytest.raises(KeyboardInterrupt):
        client.submit("acme", REQUEST)
    (job,) = jobs(client).list()
    assert job.state is LocalState.UNKNOWN and job.error_class == "KeyboardInterrupt"


def test_a_ledger_that_fails_after_acceptance_still_gives_the_handle(
    client: Client, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("POST", "/v1/jobs", accepted("j-accepted"))
    ledger = jobs(client)

    def full(*args: object, **kwargs: object) -> None:
        raise LedgerError("the job ledger x could not be written (disk full)", path="x")

    monkeypatch.setattr(ledger, "submitted", full)
    with pytest.raises(LedgerError) as info:
        client.submit("acme", REQUEST)
    assert "The provider accepted the job" in info.value.message
    assert '"job_id": "j-accepted"' in info.value.message


def test_without_a_ledger_nothing_is_written(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    environ = {"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": server.url,
               "LIPBRIDGE_LEDGER": str(tmp_path / "never.sqlite")}
    server.script("POST", "/v1/jobs", accepted())
    with Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                ledger=False) as bare:
        handle = bare.submit("acme", REQUEST)
        assert handle.local_id is None and bare.jobs is None
    assert not (tmp_path / "never.sqlite").exists()


def test_the_default_ledger_is_the_environment_s(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    environ = {"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": server.url,
               "LIPBRIDGE_LEDGER": str(tmp_path / "mine.sqlite")}
    server.script("POST", "/v1/jobs", accepted())
    with Client(registry=make_registry(standard_site), environ=environ, clock=clock) as c:
        c.submit("acme", REQUEST)
    with Ledger(tmp_path / "mine.sqlite") as ledger:
        assert [j.provider_job_id for j in ledger.list()] == ["j1"]


# -- run and wait -------------------------------------------------------------------------


def test_run_submits_waits_and_downloads_recording_each_step(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("POST", "/v1/jobs", accepted())
    server.script("GET", "/v1/jobs/j1", running(), done(server))
    server.script("GET", "/files/out.mp4", Reply(body=VIDEO))
    announced = []
    result = client.run("acme", REQUEST, tmp_path / "out.mp4", on_submitted=announced.append)
    assert result.video_url.endswith("/files/out.mp4")
    (handle,) = announced
    job = jobs(client).get(handle.local_id or "")
    assert job.state is LocalState.DOWNLOADED and job.lease_owner is None
    assert job.output_size == len(VIDEO)
    assert job.output_sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO
    assert [e.kind for e in jobs(client).events(job.local_id)] == [
        EventKind.INTENT, EventKind.SUBMITTED, EventKind.STATUS, EventKind.STATUS,
        EventKind.DOWNLOADED,
    ]


def test_a_cancel_is_recorded_so_the_ledger_stops_calling_the_job_running(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", accepted("j4"))
    server.script("POST", "/v1/jobs/j4/cancel", Reply.json({"id": "j4", "status": "cancelled"}))
    handle = client.submit("acme", REQUEST)
    assert client.cancel(handle).state.value == "cancelled"
    job = jobs(client).get(handle.local_id or "")
    assert job.state is LocalState.CANCELLED
    assert [e.kind for e in jobs(client).events(job.local_id)][-1] is EventKind.STATUS
    # A handle saved before the ledger knew its local id finds the job by provider id.
    server.script("POST", "/v1/jobs/j4/cancel", Reply.json({"id": "j4", "status": "cancelled"}))
    client.cancel(attrs.evolve(handle, local_id=None))
    assert jobs(client).get(job.local_id).state is LocalState.CANCELLED
    # A later answer that says it still runs is recorded as seen, but the job stays over.
    server.script("POST", "/v1/jobs/j4/cancel", Reply.json({"id": "j4", "status": "processing"}))
    assert client.cancel(handle).state.value == "running"
    assert jobs(client).get(job.local_id).state is LocalState.CANCELLED
    assert jobs(client).events(job.local_id)[-1].raw_status == "processing"


def test_run_checks_the_output_path_before_anything_is_sent(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="folder"):
        client.run("acme", REQUEST, tmp_path)
    assert server.seen == [] and jobs(client).list() == []


def test_a_failed_job_is_recorded_and_raised(client: Client, server: ScriptedServer) -> None:
    handle = _submitted(client, server)
    server.script("GET", "/v1/jobs/j1", Reply.json(
        {"id": "j1", "status": "error", "error": {"message": "no face"}}))
    with pytest.raises(JobFailed, match="no face"):
        client.wait(handle)
    job = jobs(client).get(handle.local_id or "")
    assert (job.state, job.error_message) == (LocalState.FAILED, "no face")
    assert job.lease_owner is None


def test_a_job_waited_on_elsewhere_is_busy_here(
    client: Client, server: ScriptedServer, ledger_path: Path, clock: FakeClock
) -> None:
    handle = _submitted(client, server)
    with (
        Ledger(ledger_path, clock=clock) as other,
        other.driving(handle.local_id or ""),
        pytest.raises(JobBusy, match="being driven by process"),
    ):
        client.wait(handle)
    assert server.requests("GET") == []


def test_a_long_wait_keeps_its_lease_alive_without_writing_every_poll(
    client: Client, server: ScriptedServer, clock: FakeClock, ledger_path: Path
) -> None:
    handle = _submitted(client, server)
    server.script("GET", "/v1/jobs/j1", *[running()] * 80, done(server))
    seen: list[tuple[dt.datetime, dt.datetime | None]] = []

    def look(_: object) -> None:
        with Ledger(ledger_path, clock=clock) as other:
            seen.append((clock.now(), other.get(handle.local_id or "").lease_expires_at))

    client.wait(handle, on_progress=look, timeout=None)
    assert seen[-1][0] - seen[0][0] > dt.timedelta(minutes=15)  # longer than one lease
    for now, expiry in seen[:-1]:  # the lease never lapsed while the wait went on
        assert expiry is not None and expiry > now
    assert 2 <= len({expiry for _, expiry in seen[:-1]}) <= 8  # renewed now and then only
    assert seen[-1][1] is None  # released with the last status


def test_a_wait_by_bare_job_id_finds_the_ledger_s_job(
    client: Client, server: ScriptedServer
) -> None:
    handle = _submitted(client, server)
    server.script("GET", "/v1/jobs/j1", done(server))
    bare = type(handle)(provider="acme", job_id="j1", created_at=handle.created_at)
    client.wait(bare)
    assert jobs(client).get(handle.local_id or "").state is LocalState.SUCCEEDED


def _submitted(client: Client, server: ScriptedServer, job_id: str = "j1") -> object:
    server.script("POST", "/v1/jobs", accepted(job_id))
    return client.submit("acme", REQUEST)


# -- resume -----------------------------------------------------------------------------------


def _run_interrupted(client: Client, server: ScriptedServer, tmp_path: Path) -> str:
    """A run whose process 'died' mid-wait: the job is queued, with an output pending."""
    server.script("POST", "/v1/jobs", accepted())
    server.script("GET", "/v1/jobs/j1", Reply(reset="before_body"))
    with pytest.raises(WaitTimeout):
        client.run("acme", REQUEST, tmp_path / "out.mp4", timeout=5)
    (job,) = jobs(client).list()
    return job.local_id


def test_resume_waits_for_and_downloads_an_unfinished_run(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    local_id = _run_interrupted(client, server, tmp_path)
    server.script("GET", "/v1/jobs/j1", done(server))
    server.script("GET", "/files/out.mp4", Reply(body=VIDEO))
    assert client.jobs is not None
    (outcome,) = client.jobs.resume_all()
    assert outcome.error is None and outcome.job.state is LocalState.DOWNLOADED
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO
    assert client.jobs.resume_all() == []  # nothing left
    assert len(server.requests("POST")) == 1
    assert jobs(client).get(local_id).output_sha256 == hashlib.sha256(VIDEO).hexdigest()


def test_an_expired_result_url_is_refreshed_by_a_poll_before_downloading(
    client: Client, server: ScriptedServer, tmp_path: Path, clock: FakeClock
) -> None:
    handle = _submitted(client, server)
    server.script("GET", "/v1/jobs/j1", done(server, name="old.mp4"), done(server, name="new.mp4"))
    client.wait(handle)
    jobs(client).set_output(handle.local_id or "", str(tmp_path / "out.mp4"))
    clock.now_value = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)  # past expires_at
    server.script("GET", "/files/new.mp4", Reply(body=VIDEO))
    assert client.jobs is not None
    client.jobs.download(handle.local_id or "")
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO
    assert [s.path for s in server.requests("GET")][-2:] == ["/v1/jobs/j1", "/files/new.mp4"]


def test_a_download_answered_gone_is_retried_once_with_a_fresh_url(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    handle = _submitted(client, server)
    server.script("GET", "/v1/jobs/j1", done(server, name="old.mp4"), done(server, name="new.mp4"))
    client.wait(handle)
    server.script("GET", "/files/old.mp4", Reply(status=403, body=b"expired"))
    server.script("GET", "/files/new.mp4", Reply(body=VIDEO))
    assert client.jobs is not None
    client.jobs.download(handle.local_id or "", tmp_path / "o.mp4")
    assert (tmp_path / "o.mp4").read_bytes() == VIDEO
    assert jobs(client).get(handle.local_id or "").state is LocalState.DOWNLOADED


# -- reconciling ------------------------------------------------------------------------------


def _unknown(client: Client, server: ScriptedServer, provider: str = "acme") -> str:
    server.script("POST", "/v1/jobs", Reply(reset="after_body"))
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit(provider, REQUEST)
    return str(info.value.details["local_id"])


def test_an_unknown_job_without_key_or_lookup_waits_for_the_user(
    client: Client, server: ScriptedServer
) -> None:
    local_id = _unknown(client, server)
    assert client.jobs is not None
    (outcome,) = client.jobs.resume_all()
    assert isinstance(outcome.error, NeedsReconciling)
    assert f"lipbridge jobs reconcile {local_id} --provider-job" in outcome.error.message
    assert outcome.job.state is LocalState.UNKNOWN
    assert len(server.requests("POST")) == 1  # never resent


def test_the_user_names_the_provider_job_and_it_is_checked_first(
    client: Client, server: ScriptedServer
) -> None:
    local_id = _unknown(client, server)
    assert client.jobs is not None
    server.script("GET", "/v1/jobs/nope", Reply.json({"error": {"message": "no such job"}}, 404))
    with pytest.raises(JobNotFound):
        client.jobs.reconcile(local_id, provider_job="nope")
    assert jobs(client).get(local_id).state is LocalState.UNKNOWN  # nothing changed
    server.script("GET", "/v1/jobs/j7", running("j7"), done(server, "j7"))
    job = client.jobs.reconcile(local_id, provider_job="j7")
    assert job.state is LocalState.RUNNING and job.provider_job_id == "j7"
    assert client.jobs.resume(local_id) is not None
    assert jobs(client).get(local_id).state is LocalState.SUCCEEDED


def test_not_submitted_lets_resume_submit_the_job_once(
    client: Client, server: ScriptedServer
) -> None:
    local_id = _unknown(client, server)
    assert client.jobs is not None
    assert client.jobs.reconcile(local_id, not_submitted=True).state is LocalState.NOT_SUBMITTED
    server.script("POST", "/v1/jobs", accepted("j2"))
    server.script("GET", "/v1/jobs/j2", done(server, "j2"))
    client.jobs.resume(local_id)
    job = jobs(client).get(local_id)
    assert (job.state, job.provider_job_id, job.attempts) == (LocalState.SUCCEEDED, "j2", 2)
    with pytest.raises(InvalidRequest, match="only a job whose submit outcome is unknown"):
        client.jobs.reconcile(local_id, not_submitted=True)


def test_an_idempotent_provider_gets_the_same_key_again(
    client: Client, server: ScriptedServer
) -> None:
    local_id = _unknown(client, server, "keyed")
    server.script("POST", "/v1/jobs", accepted("k1"))
    server.script("GET", "/v1/jobs/k1", done(server, "k1"))
    assert client.jobs is not None
    client.jobs.resume(local_id)
    keys = {seen.headers["idempotency-key"] for seen in server.requests("POST")}
    assert keys == {local_id} and len(server.requests("POST")) >= 2
    assert jobs(client).get(local_id).provider_job_id == "k1"


def _listing(*jobs_found: tuple[str, str]) -> Reply:
    return Reply.json({"jobs": [{"id": i, "created_at": at} for i, at in jobs_found]})


LOOKUP = "/v1/jobs?video_url=https%3A%2F%2Fcdn.invalid%2Fv.mp4"


def test_a_lookup_that_finds_exactly_one_new_job_adopts_it(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    local_id = _unknown(client, server, "finder")
    now = clock.now().isoformat()
    old = (clock.now() - dt.timedelta(days=1)).isoformat()
    server.script("GET", LOOKUP, _listing(("f1", now), ("f0", old)))
    server.script("GET", "/v1/jobs/f1", done(server, "f1"))
    assert client.jobs is not None
    client.jobs.resume(local_id)
    job = jobs(client).get(local_id)
    assert (job.provider_job_id, job.state) == ("f1", LocalState.SUCCEEDED)
    reconciled = [e for e in jobs(client).events(local_id) if e.kind is EventKind.RECONCILED]
    assert reconciled and "found by lookup: f1" in (reconciled[0].error or "")


@pytest.mark.parametrize("found", [[], ["f1", "f2"]], ids=["none", "two"])
def test_a_lookup_that_finds_none_or_several_changes_nothing(
    client: Client, server: ScriptedServer, clock: FakeClock, found: list[str]
) -> None:
    local_id = _unknown(client, server, "finder")
    server.script("GET", LOOKUP, _listing(*[(f, clock.now().isoformat()) for f in found]))
    assert client.jobs is not None
    with pytest.raises(NeedsReconciling, match="nothing was changed"):
        client.jobs.reconcile(local_id)
    assert jobs(client).get(local_id).state is LocalState.UNKNOWN


def test_a_lookup_never_adopts_a_job_the_ledger_already_has(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", "/v1/jobs", accepted("f1"))
    client.submit("finder", REQUEST)  # the same inputs, submitted and answered before
    local_id = _unknown(client, server, "finder")
    server.script("GET", LOOKUP, _listing(("f1", clock.now().isoformat())))
    assert client.jobs is not None
    with pytest.raises(NeedsReconciling, match="found no job"):
        client.jobs.reconcile(local_id)
    with pytest.raises(InvalidRequest, match="already job"):
        client.jobs.reconcile(local_id, provider_job="f1")


def test_costs_put_estimates_beside_bills(client: Client, server: ScriptedServer) -> None:
    handle = _submitted(client, server)
    server.script("GET", "/v1/jobs/j1", done(server))
    client.wait(handle)
    assert client.jobs is not None
    (line,) = client.jobs.costs("model")
    assert line.key == "acme/acme-1" and line.billed == {"credits": 20}
    assert line.unknown_estimates == 1  # URL inputs: the output length is unknown offline
    assert json.dumps(str(line.estimated)) == '"{}"'
