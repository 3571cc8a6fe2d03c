"""Transport and ProviderHTTP: retries, submit safety, redirects, timeouts, secrets.

Everything runs against the real scripted HTTP server on 127.0.0.1 with the fake
clock, so no test sleeps for real (apart from the bounded server-side sleep that
proves read timeouts).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import logging
import random
import socket
import threading
import zlib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import KEY, FakeClock, make_registry
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import Reply, ScriptedServer, Seen

from lipbridge import (
    AuthenticationError,
    Client,
    InsufficientCredits,
    InvalidRequest,
    JobHandle,
    JobNotFound,
    JobRequest,
    JobState,
    PluginContractError,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    RetryPolicy,
    SubmitOutcomeUnknown,
    Timeouts,
    Transport,
)
from lipbridge.context import Credentials, Secret
from lipbridge.http import fingerprint, retry_after_seconds
from lipbridge.plugin import AuthScheme, CallKind, ProviderHTTP, Response, error_for_status

JOB = "/v1/jobs/j1"
SUBMIT = "/v1/jobs"
REQUEST = JobRequest(video="https://x.invalid/v.mp4", audio="https://x.invalid/a.wav")
RUNNING = {"id": "j1", "status": "processing", "progress": 40}


def handle(provider: str = "acme", job_id: str = "j1") -> JobHandle:
    return JobHandle(
        provider=provider,
        job_id=job_id,
        created_at=dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc),
        model="acme-1",
    )


DEFAULT_POLICY = RetryPolicy()


def backoff_bounds(attempt: int) -> tuple[float, float]:
    """The brief's bounds, checked against the policy's own formula."""
    base = min(30.0, 0.5 * 2 ** (attempt - 1))
    policy = DEFAULT_POLICY
    assert base == min(policy.backoff_max, policy.backoff * 2 ** (attempt - 1))
    return 0.5 * base, base


def assert_backoff(sleeps: list[float]) -> None:
    for attempt, slept in enumerate(sleeps, start=1):
        low, high = backoff_bounds(attempt)
        assert low <= slept <= high, (attempt, slept, sleeps)


def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.timezone.utc), usegmt=True)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nobody listens on: bound but not listening, so connects are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def second_server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


def env_for(base_url: str) -> dict[str, str]:
    return {
        "LIPBRIDGE_ACME_API_KEY": KEY,
        "LIPBRIDGE_ACME_BASE_URL": base_url,
        "LIPBRIDGE_KEYED_API_KEY": KEY,
        "LIPBRIDGE_KEYED_BASE_URL": base_url,
    }


def make_client(
    site: Path, clock: FakeClock, base_url: str, transport: Transport | None = None
) -> Client:
    return Client(
        registry=make_registry(site),
        environ=env_for(base_url),
        clock=clock,
        transport=transport,
        rng=random.Random(7),
    )


# -- 1. poll retries -----------------------------------------------------------------------------


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert policy.attempts == 4
    assert policy.backoff == 0.5
    assert policy.backoff_max == 30.0
    assert policy.jitter == 0.5
    assert policy.retry_after_max == 120.0
    assert policy.statuses == frozenset({429, 502, 503, 504})


@pytest.mark.parametrize("attempt", range(1, 12))
def test_retry_delay_within_jitter_bounds(attempt: int) -> None:
    policy = RetryPolicy()
    low, high = backoff_bounds(attempt)
    delays = [policy.delay(attempt, random.Random(seed)) for seed in range(200)]
    assert all(low <= d <= high for d in delays)
    assert len(set(delays)) > 1  # jitter really varies the delay
    if attempt >= 8:
        assert high == 30.0  # capped at backoff_max


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_poll_retries_transient_status_then_succeeds(
    client: Client, server: ScriptedServer, clock: FakeClock, status: int
) -> None:
    failure = Reply.json({"error": {"message": "busy"}}, status)
    server.script("GET", JOB, failure, failure, failure, Reply.json(RUNNING))

    status_ = client.poll(handle())

    assert status_.state is JobState.RUNNING
    assert status_.progress == 40
    assert len(server.requests("GET", JOB)) == 4
    assert len(clock.sleeps) == 3
    assert_backoff(clock.sleeps)


def test_poll_retries_mixed_statuses(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script(
        "GET",
        JOB,
        Reply.json({}, 429),
        Reply.json({}, 502),
        Reply(status=504, body=b"gateway timeout"),
        Reply.json(RUNNING),
    )
    assert client.poll(handle()).state is JobState.RUNNING
    assert len(server.requests("GET", JOB)) == 4
    assert len(clock.sleeps) == 3
    assert_backoff(clock.sleeps)


def test_poll_does_not_retry_non_transient_status(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", JOB, Reply.json({"error": {"message": "nope"}}, 500), Reply.json(RUNNING))
    with pytest.raises(ProviderUnavailable) as info:
        client.poll(handle())
    assert info.value.http_status == 500
    assert len(server.requests("GET", JOB)) == 1
    assert clock.sleeps == []


# -- 2. Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_poll_retry_after_seconds_honoured(
    client: Client, server: ScriptedServer, clock: FakeClock, status: int
) -> None:
    server.script("GET", JOB, Reply.json({}, status, **{"Retry-After": "7"}), Reply.json(RUNNING))
    assert client.poll(handle()).state is JobState.RUNNING
    assert clock.sleeps == [7.0]
    assert len(server.requests("GET", JOB)) == 2


def test_poll_retry_after_http_date_honoured(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    when = http_date(clock.now() + dt.timedelta(seconds=12))
    server.script("GET", JOB, Reply.json({}, 503, **{"Retry-After": when}), Reply.json(RUNNING))
    assert client.poll(handle()).state is JobState.RUNNING
    assert clock.sleeps == [pytest.approx(12.0)]


def test_poll_garbled_retry_after_falls_back_to_backoff(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script(
        "GET", JOB, Reply.json({}, 429, **{"Retry-After": "soon-ish"}), Reply.json(RUNNING)
    )
    assert client.poll(handle()).state is JobState.RUNNING
    assert len(clock.sleeps) == 1
    assert_backoff(clock.sleeps)


@pytest.mark.parametrize("hint", ["300", "121"])
def test_poll_retry_after_too_long_raises_rate_limited(
    client: Client, server: ScriptedServer, clock: FakeClock, hint: str
) -> None:
    server.script("GET", JOB, Reply.json({}, 429, **{"Retry-After": hint}), Reply.json(RUNNING))
    with pytest.raises(RateLimited) as info:
        client.poll(handle())
    assert info.value.retry_after == pytest.approx(float(hint))
    assert info.value.retryable is True
    assert info.value.http_status == 429
    assert clock.sleeps == []  # not slept on
    assert len(server.requests("GET", JOB)) == 1


def test_poll_503_retry_after_too_long_is_not_slept_on(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", JOB, Reply.json({}, 503, **{"Retry-After": "300"}), Reply.json(RUNNING))
    with pytest.raises(ProviderUnavailable) as info:
        client.poll(handle())
    assert info.value.http_status == 503
    assert info.value.retryable is True
    assert clock.sleeps == []
    assert len(server.requests("GET", JOB)) == 1


def test_poll_retry_after_far_http_date_raises_rate_limited(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    when = http_date(clock.now() + dt.timedelta(hours=1))
    server.script("GET", JOB, Reply.json({}, 429, **{"Retry-After": when}), Reply.json(RUNNING))
    with pytest.raises(RateLimited) as info:
        client.poll(handle())
    assert info.value.retry_after == pytest.approx(3600.0)
    assert clock.sleeps == []


def test_poll_retry_after_exactly_at_cap_is_slept(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", JOB, Reply.json({}, 503, **{"Retry-After": "120"}), Reply.json(RUNNING))
    assert client.poll(handle()).state is JobState.RUNNING
    assert clock.sleeps == [120.0]


# -- 3. exhausted retries ------------------------------------------------------------------------


def test_poll_exhausted_retries_raise_provider_unavailable(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", JOB, Reply.json({"error": {"message": "down"}}, 503))
    with pytest.raises(ProviderUnavailable) as info:
        client.poll(handle())
    assert info.value.retryable is True
    assert info.value.http_status == 503
    assert info.value.provider == "acme"
    assert len(server.requests("GET", JOB)) == 4
    assert len(clock.sleeps) == 3
    assert_backoff(clock.sleeps)


def test_poll_exhausted_429_raises_rate_limited(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("GET", JOB, Reply.json({}, 429, **{"Retry-After": "2"}))
    with pytest.raises(RateLimited) as info:
        client.poll(handle())
    assert info.value.retry_after == 2.0
    assert len(server.requests("GET", JOB)) == 4
    assert clock.sleeps == [2.0, 2.0, 2.0]


# -- 4. submit is not retried on status ----------------------------------------------------------


def test_submit_429_not_retried(client: Client, server: ScriptedServer, clock: FakeClock) -> None:
    server.script(
        "POST",
        SUBMIT,
        Reply.json({"error": {"message": "slow down"}}, 429, **{"Retry-After": "5"}),
        Reply.json({"id": "j1", "status": "queued"}),
    )
    with pytest.raises(RateLimited) as info:
        client.submit("acme", REQUEST)
    assert info.value.retry_after == 5.0
    assert len(server.requests("POST", SUBMIT)) == 1
    assert clock.sleeps == []


def test_submit_503_not_retried(client: Client, server: ScriptedServer, clock: FakeClock) -> None:
    server.script("POST", SUBMIT, Reply.json({}, 503), Reply.json({"id": "j1", "status": "queued"}))
    with pytest.raises(ProviderUnavailable) as info:
        client.submit("acme", REQUEST)
    assert not isinstance(info.value, SubmitOutcomeUnknown)
    assert info.value.http_status == 503
    assert len(server.requests("POST", SUBMIT)) == 1
    assert clock.sleeps == []


# -- 5. submit outcome unknown -------------------------------------------------------------------


def test_submit_reset_after_body_is_outcome_unknown(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script(
        "POST", SUBMIT, Reply(reset="after_body"), Reply.json({"id": "j1", "status": "queued"})
    )
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("acme", REQUEST)
    seen = server.requests("POST", SUBMIT)
    assert len(seen) == 1
    assert clock.sleeps == []
    details = info.value.details
    assert details["provider"] == "acme"
    assert details["url"] == server.url + SUBMIT
    assert details["method"] == "POST"
    assert details["request_fingerprint"] == fingerprint(seen[0].body)
    assert len(details["request_fingerprint"]) == 16
    assert details["http_status"] is None
    assert details["idempotency_key"] is None
    assert details["at"] == clock.now().isoformat()
    assert info.value.retryable is False
    assert "dashboard" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_submit_ambiguous_status_is_outcome_unknown(
    client: Client, server: ScriptedServer, clock: FakeClock, status: int
) -> None:
    server.script("POST", SUBMIT, Reply(status=status, body=b"internal error: id j9 maybe"))
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("acme", REQUEST)
    assert len(server.requests("POST", SUBMIT)) == 1
    assert info.value.http_status == status
    assert info.value.details["http_status"] == status
    assert "j9 maybe" in info.value.details["body_excerpt"]
    assert info.value.details["url"] == server.url + SUBMIT
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=200, body=b"<html>accepted</html>"),
        Reply.json({"status": "queued"}, 201),
        Reply(status=202, body=b""),
    ],
    ids=["non-json", "missing-id", "empty"],
)
def test_submit_unreadable_2xx_is_outcome_unknown(
    client: Client, server: ScriptedServer, reply: Reply
) -> None:
    server.script("POST", SUBMIT, reply)
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("acme", REQUEST)
    assert len(server.requests("POST", SUBMIT)) == 1
    details = info.value.details
    assert details["provider"] == "acme"
    assert details["url"] == server.url + SUBMIT
    assert details["http_status"] == reply.status
    assert details["request_fingerprint"]
    assert info.value.http_status == reply.status
    assert "probably exists" in str(info.value)
    assert isinstance(info.value.__cause__, ProviderProtocolError)


# -- 6. connection refused -----------------------------------------------------------------------


def test_poll_connection_refused_retried_then_unavailable(
    standard_site: Path, clock: FakeClock, closed_port: int
) -> None:
    with (
        make_client(standard_site, clock, f"http://127.0.0.1:{closed_port}") as c,
        pytest.raises(ProviderUnavailable) as info,
    ):
        c.poll(handle())
    assert info.value.retryable is True
    assert info.value.http_status is None
    assert "4 attempt(s)" in str(info.value)
    assert len(clock.sleeps) == 3
    assert_backoff(clock.sleeps)


@pytest.mark.parametrize("provider", ["acme", "keyed"])
def test_submit_connection_refused_retried_then_unavailable(
    standard_site: Path, clock: FakeClock, closed_port: int, provider: str
) -> None:
    with (
        make_client(standard_site, clock, f"http://127.0.0.1:{closed_port}") as c,
        pytest.raises(ProviderUnavailable) as info,
    ):
        c.submit(provider, REQUEST)
    assert not isinstance(info.value, SubmitOutcomeUnknown)
    assert "4 attempt(s)" in str(info.value)
    assert len(clock.sleeps) == 3  # the request never left, so it was safe to retry
    assert_backoff(clock.sleeps)


# -- 7. idempotency key --------------------------------------------------------------------------


def test_keyed_submit_reset_is_retried_with_same_key(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script(
        "POST",
        SUBMIT,
        Reply(reset="after_body"),
        Reply(reset="after_body"),
        Reply.json({"id": "k1", "status": "queued"}),
    )
    job = client.submit("keyed", REQUEST)
    seen = server.requests("POST", SUBMIT)
    assert len(seen) == 3
    keys = {s.headers.get("idempotency-key") for s in seen}
    assert len(keys) == 1
    (key,) = keys
    assert key
    assert job.idempotency_key == key
    assert job.job_id == "k1"
    assert job.provider == "keyed"
    assert len({s.body for s in seen}) == 1  # the same body every time
    assert len(clock.sleeps) == 2
    assert_backoff(clock.sleeps)


def test_keyed_submit_retries_transient_status(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", SUBMIT, Reply.json({}, 503), Reply.json({"id": "k2", "status": "queued"}))
    job = client.submit("keyed", REQUEST)
    seen = server.requests("POST", SUBMIT)
    assert len(seen) == 2
    assert seen[0].headers["idempotency-key"] == seen[1].headers["idempotency-key"]
    assert job.idempotency_key == seen[0].headers["idempotency-key"]


def test_keyed_submits_use_fresh_keys(client: Client, server: ScriptedServer) -> None:
    server.script("POST", SUBMIT, Reply.json({"id": "k1", "status": "queued"}))
    first = client.submit("keyed", REQUEST)
    second = client.submit("keyed", REQUEST)
    assert first.idempotency_key and second.idempotency_key
    assert first.idempotency_key != second.idempotency_key
    assert [s.headers["idempotency-key"] for s in server.requests("POST", SUBMIT)] == [
        first.idempotency_key,
        second.idempotency_key,
    ]


def test_unkeyed_submit_sends_no_idempotency_key(client: Client, server: ScriptedServer) -> None:
    server.script("POST", SUBMIT, Reply.json({"id": "j1", "status": "queued"}))
    job = client.submit("acme", REQUEST)
    assert job.idempotency_key is None
    assert "idempotency-key" not in server.requests("POST", SUBMIT)[0].headers


def test_keyed_submit_exhausted_is_outcome_unknown_with_key(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", SUBMIT, Reply(reset="after_body"))
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("keyed", REQUEST)
    seen = server.requests("POST", SUBMIT)
    assert len(seen) == 4
    assert info.value.details["idempotency_key"] == seen[0].headers["idempotency-key"]
    assert len(clock.sleeps) == 3
    assert "same idempotency key is safe" in info.value.message


@pytest.mark.parametrize(
    "last", [Reply.json({"error": {"message": "slow down"}}, 429, **{"Retry-After": "1"}),
             Reply.json({}, 503), Reply.json({"error": {"message": "bad"}}, 400)],
)
@pytest.mark.parametrize(
    "first", [Reply(reset="after_body"), Reply.json({}, 502)], ids=["reset", "502"]
)
def test_a_keyed_submit_refused_after_an_attempt_that_may_have_landed_is_unknown(
    client: Client, server: ScriptedServer, first: Reply, last: Reply
) -> None:
    # The earlier attempt may have made the job: a later refusal proves nothing about it,
    # so it must not read as "refused, nothing billed" (a fallback would pay twice).
    server.script("POST", SUBMIT, first, last)
    with pytest.raises(SubmitOutcomeUnknown, match=r"earlier attempt|HTTP 503") as info:
        client.submit("keyed", REQUEST)
    assert len(server.requests("POST", SUBMIT)) >= 2  # a 429 or 503 is retried further
    assert info.value.details["idempotency_key"] is not None


@pytest.mark.parametrize("status", [500, 502, 504])
def test_keyed_submit_answered_an_ambiguous_5xx_to_the_end_is_outcome_unknown(
    client: Client, server: ScriptedServer, status: int
) -> None:
    # The job may exist: not "refused, nothing billed", but a resend under the key later.
    server.script("POST", SUBMIT, Reply.json({}, status))
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("keyed", REQUEST)
    assert info.value.http_status == status
    assert info.value.details["idempotency_key"] is not None


# -- 8. redirects --------------------------------------------------------------------------------


def test_poll_cross_host_redirect_strips_authorization(
    client: Client, server: ScriptedServer, second_server: ScriptedServer
) -> None:
    server.script("GET", JOB, Reply(status=302, headers={"Location": second_server.url + JOB}))
    second_server.script("GET", JOB, Reply.json(RUNNING))

    assert client.poll(handle()).state is JobState.RUNNING

    (first,) = server.requests("GET", JOB)
    assert first.headers["authorization"] == f"Bearer {KEY}"
    (moved,) = second_server.requests("GET", JOB)
    assert "authorization" not in moved.headers
    assert KEY not in repr(moved.headers)
    assert moved.headers["user-agent"] == first.headers["user-agent"]  # other headers kept


def test_poll_redirect_to_localhost_name_strips_authorization(
    client: Client, server: ScriptedServer
) -> None:
    server.script(
        "GET", JOB, Reply(status=307, headers={"Location": f"http://localhost:{server.port}/moved"})
    )
    server.script("GET", "/moved", Reply.json(RUNNING))
    assert client.poll(handle()).state is JobState.RUNNING
    (moved,) = server.requests("GET", "/moved")
    assert moved.headers["host"].startswith("localhost")
    assert "authorization" not in moved.headers


def test_poll_same_host_redirect_keeps_authorization(
    client: Client, server: ScriptedServer
) -> None:
    server.script("GET", JOB, Reply(status=302, headers={"Location": "/v1/jobs/j1/v2"}))
    server.script("GET", "/v1/jobs/j1/v2", Reply.json(RUNNING))
    assert client.poll(handle()).state is JobState.RUNNING
    (moved,) = server.requests("GET", "/v1/jobs/j1/v2")
    assert moved.headers["authorization"] == f"Bearer {KEY}"


def test_redirect_loop_is_bounded(client: Client, server: ScriptedServer, clock: FakeClock) -> None:
    server.script("GET", JOB, Reply(status=302, headers={"Location": JOB}))
    with pytest.raises(ProviderUnavailable):
        client.poll(handle())
    # MAX_REDIRECTS=3 -> 4 requests per attempt, 4 attempts.
    assert len(server.requests("GET", JOB)) == 16
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize("header", ["x-api-key", "X-Acme-Token"])
def test_custom_auth_header_stripped_cross_host(
    server: ScriptedServer, second_server: ScriptedServer, clock: FakeClock, header: str
) -> None:
    transport = Transport()
    http = ProviderHTTP(
        provider="p",
        base_url=server.url,
        transport=transport,
        clock=clock,
        credentials=Credentials(provider="p", api_key=Secret("k-custom-secret-42")),
        auth=AuthScheme(header=header, prefix=""),
        user_agent="lipbridge-test/1",
        secret_headers=("X-Session",),
    )
    server.script("GET", "/a", Reply(status=301, headers={"Location": second_server.url + "/b"}))
    second_server.script("GET", "/b", Reply.json({"ok": True}))
    server.script("GET", "/same", Reply(status=302, headers={"Location": "/same2"}))
    server.script("GET", "/same2", Reply.json({"ok": True}))
    try:
        response = http.request("GET", "/a", kind=CallKind.POLL, headers={"X-Session": "s-1"})
        same = http.request("GET", "/same", kind=CallKind.POLL, headers={"X-Session": "s-1"})
    finally:
        transport.close()

    assert response.status == 200
    assert response.json() == {"ok": True}
    assert same.status == 200
    name = header.lower()
    (sent,) = server.requests("GET", "/a")
    assert sent.headers[name] == "k-custom-secret-42"
    assert sent.headers["x-session"] == "s-1"
    (moved,) = second_server.requests("GET", "/b")
    assert name not in moved.headers
    assert "x-session" not in moved.headers
    assert "k-custom-secret-42" not in repr(moved)
    (kept,) = server.requests("GET", "/same2")
    assert kept.headers[name] == "k-custom-secret-42"
    assert kept.headers["x-session"] == "s-1"


def test_absolute_url_to_other_host_refused(server: ScriptedServer, clock: FakeClock) -> None:
    transport = Transport()
    http = ProviderHTTP(
        provider="p",
        base_url=server.url,
        transport=transport,
        clock=clock,
        credentials=Credentials(provider="p", api_key=Secret("k-secret")),
        auth=AuthScheme(),
        user_agent="t/1",
    )
    try:
        with pytest.raises(PluginContractError, match="refusing to send credentials"):
            http.get("http://evil.invalid/steal", kind=CallKind.POLL)
        assert http.exchanges == []
    finally:
        transport.close()


@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
def test_an_answer_is_read_whole_and_decoded(
    server: ScriptedServer, clock: FakeClock, encoding: str | None
) -> None:
    """A plain answer of a known length is read at once, an encoded one decoded in chunks."""
    body = json.dumps({"id": "j1", "pad": "x" * 100_000}).encode()
    encode = {None: bytes, "gzip": gzip.compress, "deflate": zlib.compress}[encoding]
    headers = {"Content-Encoding": encoding} if encoding else {}
    server.script("GET", "/answer", Reply(body=encode(body), headers=headers))
    transport = Transport()
    try:
        for _ in range(2):  # the second on the connection the first gave back
            response = transport.send(
                "GET", server.url + "/answer", headers={}, allow_private=True
            )
            assert (response.status, response.body, response.truncated) == (200, body, False)
    finally:
        transport.close()


def _reference_url(base_url: str, path: str) -> str | None:
    """ProviderHTTP.url as first written: urljoin, then the same-origin check (None: refused)."""
    base = base_url.rstrip("/") + "/"
    url = urljoin(base, path.lstrip("/")) if "://" not in path else path
    one, two = urlsplit(base), urlsplit(url)
    return url if (one.scheme, one.netloc) == (two.scheme, two.netloc) else None


BASE_URLS = [
    "http://127.0.0.1:8080",
    "https://api.example.com/v1/",
    "https://api.example.com/v1/./",
    "https://api.example.com/a//b",
    "HTTPS://api.example.com/x",
    "https://user:pw@api.example.com/",
    "https://api.example.com/x;y/",
    "https://api.example.com/?q=1",
    "https://api.example.com/#f",
    "https://[::1]:9/",
    "https://api.example.com/%2e%2e/",
    "https://api.example.com/a/../",
]
PATH_PIECES = st.sampled_from(
    ["a", "Z9", "-._~", "!$&'()*+,=@", "%2F", "/", "//", ".", "..", "./", "../", ":", ";",
     "?", "#", " ", "\t", "é", "\\", "http://evil.invalid", "//evil.invalid"]
)


@settings(max_examples=400, deadline=None)
@given(base_url=st.sampled_from(BASE_URLS), path=st.lists(PATH_PIECES, max_size=8).map("".join))
def test_a_path_joins_the_base_url_as_urljoin_would(base_url: str, path: str) -> None:
    http = ProviderHTTP(
        provider="p",
        base_url=base_url,
        transport=Transport(),
        clock=FakeClock(),
        credentials=Credentials(provider="p", api_key=None),
        auth=AuthScheme(),
        user_agent="t/1",
    )
    try:
        joined: str | None = http.url(path)
    except PluginContractError:
        joined = None
    assert joined == _reference_url(base_url, path)


# -- 9. timeouts ---------------------------------------------------------------------------------


def test_default_timeouts() -> None:
    transport = Transport()
    try:
        assert transport.timeouts == Timeouts(
            connect=5.0, read=30.0, submit_read=60.0, download_read=60.0
        )
        assert transport.timeouts.connect == 5.0
        assert transport.timeouts.read == 30.0
        assert transport.timeouts.submit_read == 60.0
    finally:
        transport.close()


def held(reply: Reply, until: threading.Event):  # type: ignore[no-untyped-def]
    """Answer only once the test says the client has given up (at most 10 s later): the
    client's read timeout must fire however slowly a loaded machine runs it."""

    def answer(seen: Seen) -> Reply:
        until.wait(10)  # server side only
        return reply

    return answer


def test_submit_read_timeout_is_outcome_unknown(
    standard_site: Path, server: ScriptedServer, clock: FakeClock
) -> None:
    # read=30 but submit_read=0.2, and the server holds its answer back: had the submit used
    # the read timeout it would have got the answer. No clock is read: the outcome is proof.
    transport = Transport(timeouts=Timeouts(connect=0.5, read=30.0, submit_read=0.2))
    given_up = threading.Event()
    server.script("POST", SUBMIT, held(Reply.json({"id": "j1", "status": "queued"}), given_up))
    with (
        make_client(standard_site, clock, server.url, transport) as c,
        pytest.raises(SubmitOutcomeUnknown) as info,
    ):
        c.submit("acme", REQUEST)
    given_up.set()
    assert len(server.requests("POST", SUBMIT)) == 1
    assert info.value.details["http_status"] is None
    assert clock.sleeps == []


def test_poll_read_timeout_is_retried(
    standard_site: Path, server: ScriptedServer, clock: FakeClock
) -> None:
    transport = Transport(timeouts=Timeouts(connect=0.5, read=0.2, submit_read=5.0))
    given_up = threading.Event()
    server.script("GET", JOB, held(Reply.json(RUNNING), given_up), Reply.json(RUNNING))
    with make_client(standard_site, clock, server.url, transport) as c:
        assert c.poll(handle()).state is JobState.RUNNING
    given_up.set()
    assert len(server.requests("GET", JOB)) == 2
    assert len(clock.sleeps) == 1
    assert_backoff(clock.sleeps)


# -- 10. secrets ---------------------------------------------------------------------------------


def all_text(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(getattr(seen, "details", None))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_api_key_never_logged_or_shown(
    client: Client,
    server: ScriptedServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="lipbridge")
    server.script("POST", SUBMIT, Reply(reset="after_body"))
    server.script("GET", JOB, Reply(reset="after_body"))
    server.script("GET", "/v1/jobs/j2", Reply.json({"error": {"message": "bad key"}}, 401))
    server.script("GET", "/v1/jobs/j3", Reply(status=418, body=b"teapot"))

    errors: list[BaseException] = []
    with pytest.raises(SubmitOutcomeUnknown) as submit_info:
        client.submit("acme", REQUEST)
    errors.append(submit_info.value)
    with pytest.raises(ProviderUnavailable) as poll_info:
        client.poll(handle())
    errors.append(poll_info.value)
    with pytest.raises(AuthenticationError) as auth_info:
        client.poll(handle(job_id="j2"))
    errors.append(auth_info.value)
    with pytest.raises(ProviderProtocolError) as proto_info:
        client.poll(handle(job_id="j3"))
    errors.append(proto_info.value)

    # The key really was used, so its absence below means something.
    assert server.requests("POST", SUBMIT)[0].headers["authorization"] == f"Bearer {KEY}"
    assert any(r.name == "lipbridge.http" for r in caplog.records)
    for record in caplog.records:
        assert KEY not in record.getMessage()
    assert KEY not in caplog.text
    for exc in errors:
        assert KEY not in all_text(exc)

    ctx = client.context("acme", client.info("acme"))
    assert KEY not in repr(client)
    assert KEY not in repr(ctx.http)
    assert KEY not in repr(ctx.credentials)
    assert KEY not in repr(ctx)
    assert KEY not in repr(ctx.credentials.api_key)
    assert KEY not in str(ctx.credentials.api_key)
    assert ctx.credentials.require() == KEY


def test_secret_and_credentials_repr() -> None:
    secret = Secret("k-very-secret")
    creds = Credentials(provider="p", api_key=secret, looked_in=("P_KEY",))
    assert "k-very-secret" not in repr(secret)
    assert "k-very-secret" not in str(secret)
    assert "k-very-secret" not in repr(creds)
    assert "k-very-secret" not in f"{secret}"
    assert secret.reveal() == "k-very-secret"


def test_api_key_echoed_in_error_message_is_redacted(
    client: Client, server: ScriptedServer
) -> None:
    echo = {"error": {"message": f"invalid api key {KEY}", "code": "bad_key"}}
    server.script("GET", JOB, Reply.json(echo, 401))
    with pytest.raises(AuthenticationError) as info:
        client.poll(handle())
    assert KEY not in all_text(info.value)


def test_api_key_echoed_in_submit_body_excerpt_is_redacted(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", SUBMIT, Reply(status=500, body=f"boom for key {KEY}".encode()))
    with pytest.raises(SubmitOutcomeUnknown) as info:
        client.submit("acme", REQUEST)
    assert "boom for key" in info.value.details["body_excerpt"]
    assert KEY not in all_text(info.value)


def test_user_agent(client: Client, server: ScriptedServer) -> None:
    server.script("GET", JOB, Reply.json(RUNNING))
    client.poll(handle())
    (seen,) = server.requests("GET", JOB)
    assert (
        seen.headers["user-agent"]
        == f"lipbridge/{metadata.version('lipbridge')} lipbridge-acme/1.0"
    )
    assert seen.headers["accept"] == "application/json"


# -- 11. units: Retry-After and status mapping ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", None),
        ("inf", None),
        ("1e999", None),
        ("nan", None),
        ("Sat, 21 Nov 2026 12:00:30 GMT", 30.0),
        ("Sat, 21 Nov 2026 11:00:00 GMT", 0.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("soon", None),
        ("Sat, 99 Foo 2026", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None, clock: FakeClock) -> None:
    result = retry_after_seconds(value, clock)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def response(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(
        method="GET",
        url="https://api.acme.invalid/v1/jobs/j1",
        status=status,
        headers={k.lower().replace("_", "-"): v for k, v in headers.items()},
        body=body,
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, RequestRejected),
        (401, AuthenticationError),
        (402, InsufficientCredits),
        (403, AuthenticationError),
        (404, JobNotFound),
        (409, RequestRejected),
        (422, RequestRejected),
        (429, RateLimited),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
        (504, ProviderUnavailable),
        (599, ProviderUnavailable),
        (418, ProviderProtocolError),
        (302, ProviderProtocolError),
    ],
)
def test_error_for_status_mapping(status: int, cls: type[ProviderError], clock: FakeClock) -> None:
    error = error_for_status(
        response(status, b'{"error": "x"}'),
        provider="acme",
        clock=clock,
        message="went wrong",
        code="E42",
        job_id="j1",
    )
    assert type(error) is cls
    assert error.http_status == status
    assert error.provider == "acme"
    assert error.code == "E42"
    assert error.job_id == "j1"
    assert str(error).startswith(f"acme: HTTP {status}: went wrong")
    assert error.retryable is (cls in (RateLimited, ProviderUnavailable))


@pytest.mark.parametrize("status", [400, 422])
def test_rejected_is_also_invalid_request(status: int, clock: FakeClock) -> None:
    error = error_for_status(response(status), provider="acme", clock=clock)
    assert isinstance(error, RequestRejected)
    assert isinstance(error, InvalidRequest)
    assert "no error message" in str(error)


def test_error_for_status_unknown_status_carries_body_excerpt(clock: FakeClock) -> None:
    body = b"I'm a   teapot\n" + b"x" * 2000
    error = error_for_status(response(418, body), provider="acme", clock=clock)
    assert isinstance(error, ProviderProtocolError)
    assert error.body_excerpt.startswith("I'm a teapot")
    assert len(error.body_excerpt) < 600
    assert "more chars" in error.body_excerpt
    assert "I'm a teapot" in str(error)


def test_error_for_status_rate_limited_retry_after(clock: FakeClock) -> None:
    error = error_for_status(response(429, retry_after="9"), provider="acme", clock=clock)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 9.0
    bare = error_for_status(response(429), provider="acme", clock=clock)
    assert isinstance(bare, RateLimited)
    assert bare.retry_after is None


def test_error_for_status_overrides(clock: FakeClock) -> None:
    error = error_for_status(
        response(403), provider="aiml", clock=clock, overrides={403: InsufficientCredits}
    )
    assert type(error) is InsufficientCredits
    teapot = error_for_status(
        response(418), provider="aiml", clock=clock, overrides={418: JobNotFound}
    )
    assert type(teapot) is JobNotFound
    limited = error_for_status(
        response(503, retry_after="4"), provider="aiml", clock=clock, overrides={503: RateLimited}
    )
    assert isinstance(limited, RateLimited)
    assert limited.retry_after == 4.0
    # statuses not overridden keep their common meaning
    plain = error_for_status(
        response(401), provider="aiml", clock=clock, overrides={403: InsufficientCredits}
    )
    assert type(plain) is AuthenticationError
