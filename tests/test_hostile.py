"""A hostile provider on 127.0.0.1: bombs, drips, stalls, lying redirects and encodings.

Each test names the promise it checks (issue 11, sections 2, 3, 4, 7 and 8) and counts
what the server received. Time is the fake clock's: a drip advances it per byte, so a
"one byte per second" server costs no real second, and no test reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KEY, FakeClock, make_registry
from hostile_server import HostileServer, answer, drip, send_all, stall, stream

from lipbridge import (
    Client,
    ConfigurationError,
    DownloadFailed,
    JobHandle,
    JobRequest,
    ProviderProtocolError,
    ProviderUnavailable,
    RetryPolicy,
    SubmitOutcomeUnknown,
    Timeouts,
    Transport,
    WaitTimeout,
)
from lipbridge.sockets import AddressRefused, Deadline
from lipbridge.transport import TransportFailure

MIB = 1 << 20
LIMIT = 1 * MIB
REQUEST = JobRequest(video="https://x.invalid/v.mp4", audio="https://x.invalid/a.wav")
RUNNING = json.dumps({"id": "j1", "status": "processing"}).encode()
DONE = json.dumps(
    {"id": "j1", "status": "done", "output": {"url": "https://cdn.invalid/v.mp4"}}
).encode()


def handle() -> JobHandle:
    return JobHandle(
        provider="acme",
        job_id="j1",
        created_at=dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc),
        model="acme-1",
    )


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def make(standard_site: Path, clock: FakeClock) -> Iterator:  # type: ignore[type-arg]
    clients: list[Client] = []

    def build(url: str, timeouts: Timeouts | None = None, **kw: object) -> Client:
        client = Client(
            registry=make_registry(standard_site),
            environ={"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": url},
            clock=clock,
            transport=Transport(timeouts=timeouts or Timeouts(), max_body=LIMIT),
            rng=random.Random(3),
            **kw,  # type: ignore[arg-type]
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def endless(block: bytes) -> Iterator[bytes]:
    while True:
        yield block


# -- 2. bounded memory ----------------------------------------------------------------------


def test_oversized_poll_answer_is_a_retryable_protocol_error(make) -> None:  # type: ignore[no-untyped-def]
    head = answer(200, b"", Content_Type="application/json").replace(
        b"Content-Length: 0", b"Content-Length: 314572800"
    )
    with HostileServer(stream(head, endless(b"x" * 65536))) as server:
        tracemalloc.start()
        try:
            with pytest.raises(ProviderProtocolError) as info:
                make(server.url).poll(handle())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert info.value.retryable
    assert "limit" in str(info.value)
    assert len(server.requests) == 1
    assert peak < LIMIT + 4 * MIB


def test_gzip_bomb_is_cut_at_the_limit_after_decompression(make) -> None:  # type: ignore[no-untyped-def]
    bomb = gzip.compress(b"\0" * (64 * MIB), compresslevel=9)
    assert len(bomb) < LIMIT // 8  # small on the wire, huge once decoded
    with HostileServer(send_all(answer(200, bomb, Content_Encoding="gzip"))) as server:
        tracemalloc.start()
        try:
            with pytest.raises(ProviderProtocolError):
                make(server.url).poll(handle())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < LIMIT + 4 * MIB
    assert len(server.requests) == 1


def test_oversized_submit_answer_is_outcome_unknown_and_never_resent(make) -> None:  # type: ignore[no-untyped-def]
    with (
        HostileServer(send_all(answer(201, b"{" + b" " * (2 * LIMIT) + b"}"))) as server,
        pytest.raises(SubmitOutcomeUnknown) as info,
    ):
        make(server.url).submit("acme", REQUEST)
    assert "limit" in str(info.value)
    assert info.value.details["http_status"] == 201
    assert len(server.requests) == 1


def test_oversized_error_page_is_read_once_per_attempt_and_mapped_by_status(
    make, clock: FakeClock  # type: ignore[no-untyped-def]
) -> None:
    page = answer(503, b"<html>" + b"busy " * (4 * LIMIT) + b"</html>")
    with HostileServer(send_all(page)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(ProviderUnavailable):
                make(server.url).poll(handle())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(server.requests) == RetryPolicy().attempts  # one read per attempt, no more
    assert peak < LIMIT + 4 * MIB


# -- 3. deadlines -----------------------------------------------------------------------------


def tick(clock: FakeClock, seconds: float = 1.0):  # type: ignore[no-untyped-def]
    lock = threading.Lock()

    def advance() -> None:
        with lock:
            clock.mono += seconds

    return advance


@pytest.mark.parametrize(
    "prefix",
    [b"HTTP/1.1 200 OK\r\nX-Drip: ", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"],
    ids=["headers", "body"],
)
def test_wait_ends_at_its_deadline_against_a_drip(
    make, clock: FakeClock, prefix: bytes  # type: ignore[no-untyped-def]
) -> None:
    with HostileServer(drip(prefix, tick(clock))) as server:
        started = clock.monotonic()
        with pytest.raises(WaitTimeout):
            make(server.url).wait(handle(), timeout=10)
        elapsed = clock.monotonic() - started
    assert elapsed < 10 + Timeouts().connect + 1  # the last bytes the drip sends overshoot
    assert len(server.requests) >= 1


def test_wait_ends_at_its_deadline_against_a_stall(make, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    # The stall is real (a socket that never answers); the read timeout is made short so
    # the test stays fast, and the fake clock decides when the wait is over.
    with HostileServer(stall()) as server:
        with pytest.raises(WaitTimeout):
            make(server.url, Timeouts(read=0.05)).wait(handle(), timeout=10)
        assert sum(clock.sleeps) <= 10 + 1e-9  # virtual seconds (the fake clock moves by sleeps)
    assert len(server.requests) >= 1


def test_submit_drip_is_outcome_unknown_within_the_submit_deadline(
    make, clock: FakeClock  # type: ignore[no-untyped-def]
) -> None:
    with HostileServer(drip(b"HTTP/1.1 201 Created\r\nX-Drip: ", tick(clock))) as server:
        started = clock.monotonic()
        with pytest.raises(SubmitOutcomeUnknown):
            make(server.url).submit("acme", REQUEST)
        # The server ticks in its own thread and drips a few more bytes before it notices
        # that the client hung up: a handful of seconds over, never a minute.
        assert clock.monotonic() - started <= Timeouts().submit + 5
    assert len(server.requests) == 1


def test_retry_after_past_the_deadline_ends_the_wait_early_and_says_so(
    make, clock: FakeClock  # type: ignore[no-untyped-def]
) -> None:
    with HostileServer(send_all(answer(503, b"", Retry_After="119"))) as server:
        with pytest.raises(WaitTimeout) as info:
            make(server.url).wait(handle(), timeout=30)
        assert sum(clock.sleeps) < 30  # virtual seconds (the fake clock moves by sleeps)
    assert "119" in str(info.value)
    assert max(clock.sleeps) < 30


def test_retry_after_beyond_the_retry_cap_is_honoured_within_the_deadline(
    make, clock: FakeClock  # type: ignore[no-untyped-def]
) -> None:
    replies = iter([answer(503, b"", Retry_After="300"), answer(200, DONE)])

    def behaviour(server: HostileServer, conn, request: bytes) -> None:  # type: ignore[no-untyped-def]
        conn.sendall(next(replies))

    with HostileServer(behaviour) as server:
        result = make(server.url).wait(handle(), timeout=600)
    assert result.video_url == "https://cdn.invalid/v.mp4"
    assert 300 in clock.sleeps  # neither cut to 60 s nor refused for passing the 120 s cap
    assert len(server.requests) == 2


@pytest.mark.parametrize("value", ["inf", "1e999", "-5", "nan"])
def test_absurd_retry_after_is_ignored(make, value: str) -> None:  # type: ignore[no-untyped-def]
    with (
        HostileServer(send_all(answer(503, b"", Retry_After=value))) as server,
        pytest.raises(ProviderUnavailable) as info,
    ):
        make(server.url).poll(handle())
    assert info.value.retry_after is None
    assert len(server.requests) == RetryPolicy().attempts


# -- 4. a submit is never sent twice ------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_submit_redirected_to_an_unreachable_host_is_sent_once(
    make, status: int  # type: ignore[no-untyped-def]
) -> None:
    dead = HostileServer(stall())  # bound, then closed: nothing listens on its port
    dead.__exit__()
    reply = answer(status, b"", Location=f"http://127.0.0.1:{dead.port}/v1/jobs")
    with HostileServer(send_all(reply)) as server, pytest.raises(SubmitOutcomeUnknown):
        make(server.url).submit("acme", REQUEST)
    assert len(server.requests) == 1


def test_redirect_loop_ends(make) -> None:  # type: ignore[no-untyped-def]
    with (
        HostileServer(send_all(answer(302, b"", Location="/v1/jobs/j1"))) as server,
        pytest.raises(ProviderUnavailable),
    ):
        make(server.url, Timeouts()).poll(handle())
    assert len(server.requests) == RetryPolicy().attempts * 4  # 1 + 3 redirects per attempt


# -- 2. downloads: encodings and Retry-After -----------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_encoded_download_is_decoded_not_saved_encoded(
    make, out: Path, encoding: str, encode  # type: ignore[no-untyped-def]
) -> None:
    video = bytes(range(256)) * 4096
    with HostileServer(send_all(answer(200, encode(video), Content_Encoding=encoding))) as s:
        saved = make(s.url).download(s.url + "/out.mp4", out / "out.mp4")
    assert saved.read_bytes() == video


def test_download_with_an_unknown_encoding_is_refused_and_nothing_saved(
    make, out: Path  # type: ignore[no-untyped-def]
) -> None:
    with (
        HostileServer(send_all(answer(200, b"????", Content_Encoding="x-lzma9"))) as s,
        pytest.raises(DownloadFailed) as info,
    ):
        make(s.url).download(s.url + "/out.mp4", out / "out.mp4")
    assert "x-lzma9" in str(info.value)
    assert list(out.iterdir()) == []


def test_download_honours_retry_after(make, out: Path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    replies = iter([answer(503, b"", Retry_After="42"), answer(200, b"video")])

    def behaviour(server: HostileServer, conn, request: bytes) -> None:  # type: ignore[no-untyped-def]
        conn.sendall(next(replies))

    with HostileServer(behaviour) as s:
        saved = make(s.url).download(s.url + "/out.mp4", out / "out.mp4")
    assert saved.read_bytes() == b"video"
    assert clock.sleeps == [42.0]


# -- 8. an unread error body never reaches the next answer ----------------------------------------


def test_unread_error_body_does_not_poison_the_pooled_connection(
    make, out: Path  # type: ignore[no-untyped-def]
) -> None:
    """The body of a 500 that the client did not read must not be read as the start of
    the next answer (``BadStatusLine('busyHTTP/1.1 ...')``): the server here holds the
    body back until a second request comes on the same connection, as a slow network
    would, so a connection returned to the pool with its body unread fails every time."""
    owed: set[int] = set()

    def behaviour(server: HostileServer, conn, request: bytes) -> None:  # type: ignore[no-untyped-def]
        if not server.requests[:-1]:  # the first request of all
            conn.sendall(answer(500, b"busy")[: -len(b"busy")])  # the body is owed
            owed.add(id(conn))
        elif id(conn) in owed:
            conn.sendall(b"busy" + answer(200, b"video"))
        else:
            conn.sendall(answer(200, b"video"))

    with HostileServer(behaviour) as s:
        client = make(s.url, retry=RetryPolicy(attempts=1))
        with pytest.raises(DownloadFailed):
            client.download(s.url + "/out.mp4", out / "out.mp4")
        saved = client.download(s.url + "/out.mp4", out / "out.mp4")
    assert saved.read_bytes() == b"video"
    assert s.connections == 2


# -- 7. private addresses ----------------------------------------------------------------------


def test_result_url_on_a_private_address_is_refused_for_a_public_provider(
    standard_site: Path, clock: FakeClock, out: Path
) -> None:
    with HostileServer(send_all(answer(200, b"secret intranet page"))) as s:
        client = Client(
            registry=make_registry(standard_site),
            environ={"LIPBRIDGE_ACME_API_KEY": KEY},  # the provider's public default base URL
            clock=clock,
        )
        for url in (s.url + "/x.mp4", f"http://localhost:{s.port}/x.mp4"):
            with pytest.raises(DownloadFailed) as info:
                client.download(url, out / "out.mp4")
            assert "LIPBRIDGE_ALLOW_PRIVATE_HOSTS" in str(info.value)
        assert s.requests == []  # refused at connect time, before a byte was sent
        allowed = Client(
            registry=make_registry(standard_site),
            environ={"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ALLOW_PRIVATE_HOSTS": "1"},
            clock=clock,
        )
        assert allowed.download(s.url + "/x.mp4", out / "out.mp4").exists()
    assert list(out.iterdir()) == [out / "out.mp4"]


def test_transport_refuses_a_private_peer_before_sending(clock: FakeClock) -> None:
    with HostileServer(send_all(answer(200, b"{}"))) as s:
        transport = Transport()
        with pytest.raises(TransportFailure) as info:
            transport.send(
                "GET",
                f"http://localhost:{s.port}/",
                headers={},
                deadline=Deadline.within(clock, 5, read=5),
            )
        transport.close()
    assert info.value.refused_address
    assert not info.value.sent
    assert s.requests == []


class RefusingTransport(Transport):
    """As if the provider's host name resolved to a private address."""

    def send(self, method: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def,override]
        raise TransportFailure(AddressRefused("api.acme.invalid", "10.0.0.7"), sent=False)


def test_base_url_resolving_to_a_private_address_is_a_configuration_error(
    standard_site: Path, clock: FakeClock
) -> None:
    client = Client(
        registry=make_registry(standard_site),
        environ={"LIPBRIDGE_ACME_API_KEY": KEY},
        clock=clock,
        transport=RefusingTransport(),
    )
    with pytest.raises(ConfigurationError) as info:
        client.poll(handle())
    assert "10.0.0.7" in str(info.value)
    assert "LIPBRIDGE_ALLOW_PRIVATE_HOSTS" in str(info.value)
    assert clock.sleeps == []  # not retried


def test_both_ways_a_submit_ends_unknown_give_the_same_details(make) -> None:  # type: ignore[no-untyped-def]
    """Lost on the wire (the core sees it) or accepted but unreadable (the plugin chokes
    on the answer): one builder, the same keys, the request's fingerprint in both."""
    def cut_short(server: HostileServer, conn, request: bytes) -> None:  # type: ignore[no-untyped-def]
        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 50\r\n\r\n{")
        conn.shutdown(socket.SHUT_WR)

    found = []
    for behaviour in (cut_short, send_all(answer(201, b"{}"))):
        with (
            HostileServer(behaviour) as server,
            pytest.raises(SubmitOutcomeUnknown) as info,
        ):
            make(server.url).submit("acme", REQUEST)
        found.append(info.value.details)
    lost, unreadable = found
    assert set(lost) == set(unreadable)
    assert lost["request_fingerprint"] == unreadable["request_fingerprint"]
    assert unreadable["http_status"] == 201
