"""The Client facade: wait schedule and deadline, outcomes, cancel, keys, resume."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import KEY, FakeClock, ForbiddenTransport, make_registry
from scripted_server import Reply, ScriptedServer

from lipbridge import (
    Client,
    ConfigurationError,
    JobCancelled,
    JobFailed,
    JobHandle,
    JobRequest,
    JobState,
    JobStatus,
    PollPolicy,
    UnsupportedCapability,
    WaitTimeout,
)

REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")


def running(**extra: object) -> Reply:
    return Reply.json({"id": "j1", "status": "processing", "progress": 40, **extra})


def done(server: ScriptedServer) -> Reply:
    return Reply.json(
        {"id": "j1", "status": "done", "progress": 100,
         "output": {"url": f"{server.url}/files/out.mp4", "duration": 4.0},
         "cost": {"credits": "20"}}
    )


def submitted(client: Client, server: ScriptedServer, **request: object) -> JobHandle:
    server.script("POST", "/v1/jobs", Reply.json({"id": "j1", "status": "queued"}))
    return client.submit("acme", JobRequest(**{**REQUEST.__dict__, **request})
                         if request else REQUEST)


def test_wait_backs_off_from_a_second_and_a_half_to_the_cap(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", *([running()] * 16), done(server))
    seen: list[JobStatus] = []
    result = client.wait(handle, on_progress=seen.append)
    assert result.video_url.endswith("/files/out.mp4")
    assert result.billed is not None and str(result.billed.amount) == "20"
    assert len(seen) == 17 and seen[0].progress == 40 and seen[-1].state is JobState.SUCCEEDED
    waited = 0.0
    for slept in clock.sleeps:  # each sleep is 1.5 s + 25 % of the time waited, ±20 %
        base = min(25.0, 1.5 + 0.25 * waited)
        assert base * 0.8 <= slept <= base * 1.2
        waited += slept
    assert clock.sleeps[0] <= 1.5 * 1.2  # the first poll comes 1.5 s ±20 % after the submit
    assert max(clock.sleeps) <= 25.0 * 1.2
    assert clock.sleeps[-1] >= 25.0 * 0.8  # the cap was reached


def test_the_default_schedule_without_jitter(client: Client, server: ScriptedServer,
                                             clock: FakeClock) -> None:
    """The documented poll times (docs/reliability.md): x1.25 a poll, 25 s from 94 s on."""
    client.poll_policy = PollPolicy(jitter=0.0)
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", *([running()] * 15), done(server))
    client.wait(handle)
    times = [round(sum(clock.sleeps[: i + 1]), 2) for i in range(len(clock.sleeps))]
    assert times[:9] == [1.5, 3.38, 5.72, 8.65, 12.31, 16.89, 22.61, 29.76, 38.7]
    assert clock.sleeps[-3:] == [25.0, 25.0, 25.0]


def test_provider_poll_hint_wins_and_is_clamped(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", running(poll_after=7), running(poll_after=0.01),
                  running(poll_after=500), done(server))
    client.wait(handle)
    assert clock.sleeps[1:] == [7.0, 1.0, 60.0]


def test_deadline_raises_wait_timeout_with_the_handle(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", running())
    start = clock.monotonic()
    with pytest.raises(WaitTimeout) as err:
        client.wait(handle, timeout=60)
    assert err.value.handle == handle
    assert err.value.last_status is not None and err.value.last_status.raw_status == "processing"
    assert clock.monotonic() - start == pytest.approx(60)
    assert "j1" in str(err.value) and err.value.retryable
    assert server.requests("POST", "/v1/jobs/j1/cancel") == []


def test_cancel_on_timeout(client: Client, server: ScriptedServer) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", running())
    server.script("POST", "/v1/jobs/j1/cancel", Reply.json({"id": "j1", "status": "cancelled"}))
    with pytest.raises(WaitTimeout, match="it was cancelled"):
        client.wait(handle, timeout=10, cancel_on_timeout=True)
    assert len(server.requests("POST", "/v1/jobs/j1/cancel")) == 1


def test_default_deadline_is_thirty_minutes(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", running())
    with pytest.raises(WaitTimeout):
        client.wait(handle)
    assert sum(clock.sleeps) == pytest.approx(1800)


def test_transient_errors_while_waiting_do_not_lose_the_job(
    client: Client, server: ScriptedServer
) -> None:
    handle = submitted(client, server)
    outage = [Reply.json({"error": {"message": "upstream"}}, 503)] * 4  # exhausts one poll
    server.script("GET", "/v1/jobs/j1", *outage, done(server))
    assert client.wait(handle).duration_seconds == 4.0


def test_failed_job_raises_job_failed_with_the_provider_code(
    client: Client, server: ScriptedServer
) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", Reply.json(
        {"id": "j1", "status": "error", "error": {"code": "no_face", "message": "no face found"}}
    ))
    with pytest.raises(JobFailed) as err:
        client.wait(handle)
    assert err.value.code == "no_face" and "no face found" in str(err.value)
    assert err.value.job_id == "j1" and err.value.status is not None


def test_cancelled_job_raises_job_cancelled(client: Client, server: ScriptedServer) -> None:
    handle = submitted(client, server)
    server.script("GET", "/v1/jobs/j1", Reply.json({"id": "j1", "status": "cancelled"}))
    with pytest.raises(JobCancelled):
        client.wait(handle)


def test_hook_lipbridge_cancel(client: Client, server: ScriptedServer) -> None:
    handle = submitted(client, server)
    server.script("POST", "/v1/jobs/j1/cancel", Reply.json({"id": "j1", "status": "cancelled"}))
    assert client.cancel(handle).state is JobState.CANCELLED


def test_cancel_without_capability_sends_nothing(offline_client: Client, clock: FakeClock) -> None:
    handle = JobHandle(provider="acme", job_id="j1", created_at=clock.now(), model="acme-lite")
    with pytest.raises(UnsupportedCapability, match="acme/acme-lite has no cancel"):
        offline_client.cancel(handle)


def test_missing_key_names_the_variables_and_sends_nothing(
    standard_site: Path, clock: FakeClock
) -> None:
    client = Client(registry=make_registry(standard_site), environ={}, clock=clock,
                    transport=ForbiddenTransport())
    with pytest.raises(ConfigurationError) as err:
        client.submit("globex", REQUEST)
    assert "LIPBRIDGE_GLOBEX_API_KEY or GLOBEX_KEY" in str(err.value)


def test_conventional_key_variable_is_used(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/globex/v1/jobs", Reply.json({"id": "g", "status": "queued"}))
    client.submit("globex", REQUEST)
    assert server.requests("POST")[0].headers["authorization"].startswith("Bearer test-key-globex")


def test_plain_http_base_url_is_refused_off_loopback(standard_site: Path) -> None:
    client = Client(registry=make_registry(standard_site), transport=ForbiddenTransport(),
                    environ={"LIPBRIDGE_ACME_API_KEY": KEY,
                             "LIPBRIDGE_ACME_BASE_URL": "http://api.acme.example"})
    with pytest.raises(ConfigurationError, match=r"LIPBRIDGE_ACME_BASE_URL=.* is plain http"):
        client.submit("acme", REQUEST)


def test_a_handle_resumes_in_a_fresh_client(
    client: Client, server: ScriptedServer, standard_site: Path
) -> None:
    saved = submitted(client, server).to_json()
    fresh = Client(
        registry=make_registry(standard_site),
        environ={"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": server.url},
        clock=FakeClock(),
        poll_policy=PollPolicy(first=1.0),
        rng=random.Random(1),
    )
    server.script("GET", "/v1/jobs/j1", done(server))
    handle = JobHandle.from_json(saved)
    assert handle.created_at == client.clock.now() and handle.model == "acme-1"
    assert fresh.wait(handle).duration_seconds == 4.0


def test_idempotency_key_is_minted_once_and_kept_in_the_handle(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": "k1", "status": "queued"}))
    handle = client.submit("keyed", REQUEST)
    sent = server.requests("POST", "/v1/jobs")[0].headers["idempotency-key"]
    assert handle.idempotency_key == sent and len(sent) >= 16
    again = client.submit("keyed", REQUEST)
    assert again.idempotency_key != sent  # one key per logical job


def test_provider_options_pass_through_untouched(client: Client, server: ScriptedServer) -> None:
    nested = {"segments": [{"start": 0, "end": 1.5}], "flag": True}
    server.script("POST", "/v1/jobs", Reply.json({"id": "o", "status": "queued"}))
    client.submit("acme", JobRequest(video=REQUEST.video, audio=REQUEST.audio, options=nested,
                                     sync_mode="bounce", temperature=0.3))
    body = server.requests("POST")[0].json()
    assert body["segments"] == nested["segments"] and body["flag"] is True
    assert body["mode"] == "bounce" and body["temperature"] == 0.3 and body["model"] == "acme-1"


def test_hook_lipbridge_estimate_cost_is_offline(offline_client: Client) -> None:
    estimate = offline_client.estimate_cost("acme", REQUEST, audio_seconds=2.5)
    assert estimate.known and str(estimate.amount) == "15"  # 3 whole seconds x 5 credits



def test_settings_given_to_the_client_override_the_environments(
    standard_site: Path, clock: FakeClock
) -> None:
    client = Client(
        registry=make_registry(standard_site),
        environ={"LIPBRIDGE_ACME_REQUEST_FIELDS": "video", "LIPBRIDGE_ACME_REGION": "eu"},
        settings={"acme": {"request_fields": "video_url"}, "globex": {"region": "us"}},
        clock=clock,
        transport=ForbiddenTransport(),
    )
    ctx = client.context("acme", client.info("acme"))
    assert ctx.settings == {"request_fields": "video_url", "region": "eu"}


def test_a_providers_environment_is_read_on_its_first_call_and_kept(
    standard_site: Path, clock: FakeClock
) -> None:
    environ = {"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_REGION": "eu",
               "LIPBRIDGE_ACME_BASE_URL": "https://one.acme.invalid"}
    client = Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                    api_keys={"acme": "explicit-key-0123456789"},
                    settings={"acme": {"mode": "given"}}, transport=ForbiddenTransport())
    first = client.context("acme", client.info("acme"))
    environ.update(LIPBRIDGE_ACME_REGION="us", LIPBRIDGE_ACME_BASE_URL="https://two.acme.invalid",
                   LIPBRIDGE_ACME_API_KEY="changed-key-0123456789")
    again = client.context("acme", client.info("acme"))
    for ctx in (first, again):
        assert ctx.settings["region"] == "eu" and ctx.settings["mode"] == "given"
        assert ctx.http.base_url == "https://one.acme.invalid/"
        assert ctx.credentials.require() == "explicit-key-0123456789"  # api_keys still win
    with pytest.raises(TypeError):
        again.settings["region"] = "us"  # type: ignore[index]  # shared by calls: read-only


def test_a_malformed_base_url_is_refused_on_every_call_until_fixed(
    standard_site: Path, clock: FakeClock
) -> None:
    environ = {"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": "https://[::1"}
    client = Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                    transport=ForbiddenTransport())
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="LIPBRIDGE_ACME_BASE_URL"):
            client.context("acme", client.info("acme"))
    environ["LIPBRIDGE_ACME_BASE_URL"] = "https://api.acme.invalid"
    assert client.context("acme", client.info("acme")).http.base_url == "https://api.acme.invalid/"
