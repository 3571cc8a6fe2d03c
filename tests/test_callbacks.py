"""Callbacks (issue 16): the signature helpers plugins use, and the receiver behind
``lipbridge callbacks serve``, against real HTTP on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import urllib3
from conftest import KEY, FakeClock, make_registry, write_dist
from scripted_server import Reply, ScriptedServer

from lipbridge import (
    CallbackRejected,
    Client,
    ConfigurationError,
    JobRequest,
    JobState,
    UnknownProvider,
    UnsupportedCapability,
)
from lipbridge.plugin import check_timestamp, hmac_sha256_hex, same_signature
from lipbridge.receiver import CallbackReceiver

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SECRET = "whsec_test_lipbridge"


def test_the_hmac_matches_an_independent_vector() -> None:
    # Computed outside lipbridge for sync.so's scheme: HMAC-SHA256(secret, "<t>.<body>").
    signed = hmac_sha256_hex(SECRET, b'1767225600.{"id":"gen_1","status":"COMPLETED"}')
    assert signed == "41012883c6001111bd39b9d41458088e10fcf1621b43fea9f6a4dfb38dfb31b8"
    assert same_signature(signed, signed)
    assert not same_signature(signed, signed[:-1] + "0")


def test_a_stale_or_future_timestamp_is_refused() -> None:
    check_timestamp(NOW.timestamp() - 299, NOW)
    check_timestamp(NOW.timestamp() + 299, NOW)
    for off in (-301, 301):
        with pytest.raises(CallbackRejected, match="allowed: at most 300 s"):
            check_timestamp(NOW.timestamp() + off, NOW)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Mapping[str, str], bytes]] = []

    def __call__(self, provider: str, headers: Mapping[str, str], body: bytes) -> str:
        self.seen.append((provider, headers, body))
        if provider == "nobody":
            raise UnknownProvider("nobody", ["acme"])
        if b"forged" in body:
            raise CallbackRejected("the signature does not match")
        if b"misconfigured" in body:
            raise ConfigurationError("no secret: set LIPBRIDGE_ACME_WEBHOOK_SECRET")
        return "job 01ABC done"


@pytest.fixture
def served() -> Iterator[tuple[CallbackReceiver, Recorder, urllib3.PoolManager]]:
    recorder = Recorder()
    http = urllib3.PoolManager(retries=False)
    with CallbackReceiver(recorder, max_body=1000) as receiver:
        yield receiver, recorder, http
    http.clear()


def post(served: tuple[CallbackReceiver, Recorder, urllib3.PoolManager], path: str,
         body: bytes, **headers: str) -> urllib3.BaseHTTPResponse:
    receiver, _, http = served
    return http.request("POST", receiver.url + path, body=body, headers=headers)


def test_a_callback_reaches_the_handler_with_its_raw_body_and_headers(served) -> None:  # type: ignore[no-untyped-def]
    answer = post(served, "/acme", b'{"id": "j1"}', **{"Sync-Signature": "t=1,v1=ab"})
    assert answer.status == 200 and answer.data == b"job 01ABC done\n"
    ((provider, headers, body),) = served[1].seen
    assert (provider, body) == ("acme", b'{"id": "j1"}')
    assert headers["sync-signature"] == "t=1,v1=ab"


def test_refusals_tell_the_sender_what_it_did_wrong_and_nothing_more(  # type: ignore[no-untyped-def]
    served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "lipbridge.callbacks")
    forged = post(served, "/acme", b"forged")
    assert (forged.status, forged.data) == (400, b"the signature does not match\n")
    assert post(served, "/nobody", b"{}").status == 404
    broken = post(served, "/acme", b"misconfigured")  # the receiver's trouble, not theirs
    assert (broken.status, broken.data) == (500, b"the receiver could not record it\n")
    assert "set LIPBRIDGE_ACME_WEBHOOK_SECRET" in caplog.text


def test_bodies_past_the_limit_and_other_methods_are_refused_unread(served) -> None:  # type: ignore[no-untyped-def]
    assert post(served, "/acme", b"x" * 1001).status == 413
    assert post(served, "/", b"{}").status == 404
    assert post(served, "/acme/extra", b"{}").status == 404
    receiver, recorder, http = served
    got = http.request("GET", receiver.url + "/acme")
    assert got.status == 405 and got.headers["allow"] == "POST"
    assert recorder.seen == []


# -- reading and recording a callback through the client --------------------------------------

HOOK_SECRET = "whsec_notifier_0123456789"
DONE_BODY = {"id": "j1", "status": "done", "output": {"url": "https://cdn.invalid/o.mp4"}}


def signed(body: bytes, clock_now: dt.datetime, secret: str = HOOK_SECRET,
           skew: float = 0.0) -> dict[str, str]:
    t = str(int(clock_now.timestamp() + skew))
    return {"Acme-Signature": f"t={t},v1={hmac_sha256_hex(secret, f'{t}.'.encode() + body)}"}


@pytest.fixture
def notifying(site: Path, server: ScriptedServer, clock: FakeClock,
              tmp_path: Path) -> Iterator[Client]:
    for name in ("notifier", "shouter", "acme"):
        write_dist(site, f"lipbridge-{name}", {name: f"lipbridge_testprov:{name}"})
    environ = {f"LIPBRIDGE_{p}_{k}": v for p in ("NOTIFIER", "SHOUTER", "ACME")
               for k, v in (("API_KEY", KEY), ("BASE_URL", server.url))}
    environ["LIPBRIDGE_NOTIFIER_WEBHOOK_SECRET"] = HOOK_SECRET
    with Client(registry=make_registry(site), environ=environ, clock=clock,
                rng=random.Random(7), ledger=tmp_path / "jobs.sqlite") as client:
        yield client


def test_hook_lipbridge_parse_callback_reads_a_signed_callback(
    notifying: Client, clock: FakeClock
) -> None:
    body = json.dumps(DONE_BODY).encode()
    update = notifying.parse_callback("notifier", signed(body, clock.now()), body)
    assert update.verified and update.job_id == "j1"
    assert update.status.state is JobState.SUCCEEDED
    assert update.status.result is not None
    assert update.status.result.video_url == "https://cdn.invalid/o.mp4"


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({}, "does not match"),
        ({"Acme-Signature": "t=1,v1=00"}, "does not match"),
        ("forged-secret", "does not match"),
        ("stale", "allowed: at most 300 s"),
    ],
)
def test_a_callback_whose_signature_fails_is_rejected_and_nothing_is_recorded(
    notifying: Client, clock: FakeClock, headers: object, match: str
) -> None:
    body = json.dumps(DONE_BODY).encode()
    if headers == "forged-secret":
        headers = signed(body, clock.now(), secret="whsec_someone_else_entirely")
    elif headers == "stale":
        headers = signed(body, clock.now(), skew=-301)
    with pytest.raises(CallbackRejected, match=match) as caught:
        notifying.parse_callback("notifier", headers, body)  # type: ignore[arg-type]
    assert HOOK_SECRET not in str(caught.value)


def test_without_a_secret_the_error_says_which_variable_to_set(
    notifying: Client, clock: FakeClock
) -> None:
    client = Client(registry=notifying.registry, environ={}, clock=clock, ledger=False)
    with pytest.raises(ConfigurationError, match="LIPBRIDGE_NOTIFIER_WEBHOOK_SECRET"):
        client.parse_callback("notifier", {}, b"{}")


def test_the_webhook_secret_is_no_plugin_setting_and_never_shown(notifying: Client) -> None:
    info = notifying.registry.info("notifier")
    ctx = notifying.context("notifier", info)
    assert "webhook_secret" not in ctx.settings
    secret = notifying.callbacks.secret("notifier")
    assert secret is not None and HOOK_SECRET not in repr(secret)


def test_unsigned_callbacks_need_the_users_opt_in(
    notifying: Client, clock: FakeClock
) -> None:
    body = json.dumps(DONE_BODY).encode()
    with pytest.raises(CallbackRejected, match="LIPBRIDGE_SHOUTER_UNSIGNED_CALLBACKS=accept"):
        notifying.parse_callback("shouter", {}, body)
    for opted in (
        Client(registry=notifying.registry, environ={}, clock=clock, ledger=False,
               unsigned_callbacks={"shouter"}),
        Client(registry=notifying.registry, clock=clock, ledger=False,
               environ={"LIPBRIDGE_SHOUTER_UNSIGNED_CALLBACKS": "accept"}),
    ):
        update = opted.parse_callback("shouter", {}, body)
        assert not update.verified and update.status.state is JobState.SUCCEEDED


def test_a_provider_without_callbacks_says_so(notifying: Client) -> None:
    with pytest.raises(UnsupportedCapability, match="acme documents no callback"):
        notifying.parse_callback("acme", {}, b"{}")


class CallbackDuringSleep(FakeClock):
    """A fake clock on which a callback arrives during the ``at``-th sleep of a wait."""

    def __init__(self) -> None:
        super().__init__()
        self.arrive: Callable[[], None] | None = None
        self.at = 1

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.arrive is not None and len(self.sleeps) == self.at:
            self.arrive()


@pytest.fixture
def arriving() -> CallbackDuringSleep:
    return CallbackDuringSleep()


@pytest.mark.parametrize("provider", ["notifier", "shouter"])
def test_a_callback_ends_the_wait_of_a_job_that_asked_for_one(
    site: Path, server: ScriptedServer, arriving: CallbackDuringSleep, tmp_path: Path,
    provider: str,
) -> None:
    for name in ("notifier", "shouter"):
        write_dist(site, f"lipbridge-{name}", {name: f"lipbridge_testprov:{name}"})
    environ = {f"LIPBRIDGE_{p}_{k}": v for p in ("NOTIFIER", "SHOUTER")
               for k, v in (("API_KEY", KEY), ("BASE_URL", server.url))}
    environ |= {"LIPBRIDGE_NOTIFIER_WEBHOOK_SECRET": HOOK_SECRET,
                "LIPBRIDGE_SHOUTER_UNSIGNED_CALLBACKS": "accept"}
    done_reply = Reply.json(DONE_BODY)
    server.script("POST", "/v1/jobs", Reply.json({"id": "j1", "status": "queued"}))
    server.script("GET", "/v1/jobs/j1", done_reply)
    request = JobRequest(video="https://x.invalid/v.mp4", audio="https://x.invalid/a.wav",
                         callback_url="https://hooks.invalid/cb")
    with Client(registry=make_registry(site), environ=environ, clock=arriving,
                rng=random.Random(7), ledger=tmp_path / "jobs.sqlite") as client:
        handle = client.submit(provider, request)
        body = json.dumps(DONE_BODY).encode()
        jobs = client.jobs
        assert jobs is not None

        def arrive() -> None:  # as `lipbridge callbacks serve` would record it
            update = client.parse_callback(provider, signed(body, arriving.now()), body)
            jobs.record_callback(provider, update)

        arriving.arrive = arrive
        result = client.wait(handle, timeout=None)
        events = [e.kind.value for e in jobs.ledger.events(handle.local_id or "")]
    assert result.video_url == "https://cdn.invalid/o.mp4"
    assert arriving.sleeps[0] == 2.0  # slept in slices, looking for callbacks between
    polls = server.requests("GET", "/v1/jobs/j1")
    if provider == "notifier":  # signed: believed, no poll at all
        assert polls == [] and "callback" in events
    else:  # unsigned: a hint that made the wait poll at once, 2 s in, not at 15 s
        assert len(polls) == 1 and "callback_hint" in events
        assert sum(arriving.sleeps) == 2.0


def test_a_callback_for_a_job_the_ledger_does_not_know_is_ignored(
    notifying: Client, clock: FakeClock
) -> None:
    body = json.dumps({**DONE_BODY, "id": "elsewhere"}).encode()
    update = notifying.parse_callback("notifier", signed(body, clock.now()), body)
    assert notifying.jobs is not None
    said = notifying.jobs.record_callback("notifier", update)
    assert said == "notifier job elsewhere is not in this job ledger: ignored"


def test_without_callbacks_the_wait_keeps_its_usual_pace(
    notifying: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": "j1", "status": "queued"}))
    server.script("GET", "/v1/jobs/j1", Reply.json(DONE_BODY))
    handle = notifying.submit("notifier", JobRequest(video="https://x.invalid/v.mp4",
                                                     audio="https://x.invalid/a.wav"))
    notifying.wait(handle, timeout=None)
    assert len(clock.sleeps) == 1 and 1.2 <= clock.sleeps[0] <= 1.8  # the default first poll


def test_the_flask_example_runs_as_written(
    notifying: Client, server: ScriptedServer, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lipbridge

    docs = (Path(__file__).parents[1] / "docs" / "callbacks.md").read_text()
    found = re.search(r"### Flask\n\n```python\n(.+?)```", docs, flags=re.DOTALL)
    assert found is not None
    monkeypatch.setattr(lipbridge, "Client", lambda: notifying)  # configured for the test
    namespace: dict[str, object] = {"__name__": "__main__"}  # Flask finds its root by it
    exec(compile(found.group(1), "docs/callbacks.md", "exec"), namespace)
    app = namespace["app"].test_client()  # type: ignore[attr-defined]
    server.script("POST", "/v1/jobs", Reply.json({"id": "j1", "status": "queued"}))
    handle = notifying.submit("notifier", JobRequest(
        video="https://x.invalid/v.mp4", audio="https://x.invalid/a.wav",
        callback_url="https://hooks.invalid/callbacks/notifier"))
    body = json.dumps(DONE_BODY).encode()
    answer = app.post("/callbacks/notifier", data=body, headers=signed(body, clock.now()))
    assert answer.status_code == 200
    assert answer.text == f"job {handle.local_id} (notifier j1): done"
    assert notifying.jobs is not None
    assert notifying.jobs.get(handle.local_id or "").state.value == "succeeded"
    forged = app.post("/callbacks/notifier", data=body, headers={"Acme-Signature": "t=1,v1=0"})
    assert forged.status_code == 400 and "does not match" in forged.text
