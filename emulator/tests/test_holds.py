"""Hold faults: a request kept waiting at a chosen point until its client goes away or
the emulator releases it, and what the provider is left with either way.

Clients here are raw sockets, so a test closes the connection exactly when it means to
(as a killed process's closes); the crash tests (test_crash_safety.py) do the same with
real ``lipbridge`` processes and SIGKILL. Every wait is on an event: the emulator's
``holds.wait`` and ``Held.wait_ended``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import urllib3
from emulated import sample_speech, sample_video

from lipbridge import Client, JobRequest
from lipbridge_emulator import CooperativeClock, Emulator, Timing, parse
from lipbridge_emulator.faults import FaultSpecError
from lipbridge_emulator.holds import HoldEnd, HoldPoint

INSTANT = Timing(job_seconds=0, results_lag=0)
CREATE = "/jogg/v2/create_lip_sync_video"
HTTP = urllib3.PoolManager(retries=False)

# -- the spec ---------------------------------------------------------------------------------


def test_hold_faults_parse_with_their_points() -> None:
    spec = parse("submit:hold-before=1,hold-after=2;poll:hold=3,5xx=0.1;download:hold=2@4096")
    submit, poll, download = (spec.for_target(t) for t in ("submit", "poll", "download"))
    assert (submit.hold, submit.hold_after) == (1, 2)
    assert (poll.hold, poll.server_error) == (3, 0.1)
    assert (download.hold, download.hold_bytes) == (2, 4096)
    assert parse("download:hold=1").for_target("download").hold_bytes is None  # half


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("submit:hold=1", "submit takes no hold;"),
        ("poll:hold-after=1", "poll takes no hold-after"),
        ("job:hold=1", "job takes no hold"),
        ("*:hold=1", r"\* takes no hold"),
        ("poll:hold=0", "not a request number"),
        ("poll:hold=1.5", "not a request number"),
        ("poll:hold=1@100", "@BYTES applies to download holds only"),
        ("download:hold=1@1.5", "not a whole number of bytes"),
        ("poll:held=1", "is not understood; allowed: .*hold=N"),
    ],
)
def test_bad_hold_faults_name_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(FaultSpecError, match=says):
        parse(text)


# -- on the wire ------------------------------------------------------------------------------


@contextlib.contextmanager
def emulator(faults: str) -> Iterator[tuple[Emulator, str, str]]:
    clock = CooperativeClock()  # renders hold it: a wait sees them done, without sleeping
    with Emulator(faults=faults, timing=INSTANT, clock=clock) as emu:
        video = emu.upload(sample_video(1.0), "face.mp4")
        audio = emu.upload(sample_speech(1.0), "speech.wav")
        yield emu, video, audio


def send(emu: Emulator, method: str, path: str, body: bytes = b"") -> socket.socket:
    """Open a connection and send one request on it; the caller reads or closes it."""
    host, port = urlsplit(emu.url).hostname, urlsplit(emu.url).port
    assert host is not None and port is not None
    sock = socket.create_connection((host, port))
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nx-api-key: {emu.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def answer(sock: socket.socket) -> tuple[int, bytes]:
    with sock:
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def submit(emu: Emulator, video: str, audio: str) -> socket.socket:
    body = {"video_url": video, "audio_url": audio, "playback_type": "normal_reverse"}
    return send(emu, "POST", CREATE, json.dumps(body).encode())


def hang_up(sock: socket.socket) -> None:
    """Close as a killed process's socket is closed."""
    sock.close()


def test_a_submit_held_before_its_job_exists_creates_none_when_the_client_goes() -> None:
    with emulator("submit:hold-before=1") as (emu, video, audio):
        sock = submit(emu, video, audio)
        [held] = emu.holds.wait(1)
        assert (held.point, held.attempt, held.provider, held.job_id) == (
            HoldPoint.SUBMIT_BEFORE, 1, "jogg", None
        )
        assert held.peer == f"127.0.0.1:{sock.getsockname()[1]}"
        assert emu.jobs() == [] and emu.ledger.accepted == []
        hang_up(sock)
        assert held.wait_ended() is HoldEnd.GONE
        assert emu.jobs() == [] and emu.ledger.accepted == []
        [arrival] = [a for a in emu.ledger.arrivals if a.endpoint == "submit"]
        assert (arrival.fault, arrival.status) == ("hold", None)
        # The same body again is attempt 2: not held, accepted once.
        status, _ = answer(submit(emu, video, audio))
        assert status == 200 and len(emu.ledger.accepted) == 1
        assert emu.ledger.duplicate_submits() == {}


def test_a_released_submit_goes_on_as_if_never_held() -> None:
    with emulator("submit:hold-before=1") as (emu, video, audio):
        sock = submit(emu, video, audio)
        [held] = emu.holds.wait(1)
        assert emu.holds.release() == [held]
        status, body = answer(sock)
        assert status == 200 and held.end is HoldEnd.RELEASED
        [accepted] = emu.ledger.accepted
        assert accepted.answered and accepted.job_id == json.loads(body)["data"]["task_id"]
        [arrival] = [a for a in emu.ledger.arrivals if a.endpoint == "submit"]
        assert (arrival.fault, arrival.status) == ("hold", 200)


@pytest.mark.parametrize("client_goes", [True, False])
def test_a_submit_held_after_its_job_was_created_has_its_answer_in_flight(
    client_goes: bool,
) -> None:
    with emulator("submit:hold-after=1") as (emu, video, audio):
        sock = submit(emu, video, audio)
        [held] = emu.holds.wait(1)
        [job] = emu.jobs()
        assert (held.point, held.job_id) == (HoldPoint.SUBMIT_AFTER, job.id)
        if client_goes:
            hang_up(sock)
            assert held.wait_ended() is HoldEnd.GONE
        else:
            held.release()
            status, body = answer(sock)
            assert status == 200 and json.loads(body)["data"]["task_id"] == job.id
        [accepted] = emu.ledger.accepted  # accepted either way; answered only if released
        assert (accepted.job_id, accepted.answered) == (job.id, not client_goes)


def test_the_nth_poll_of_each_job_is_held() -> None:
    with emulator("poll:hold=2") as (emu, video, audio):
        ids = [json.loads(answer(submit(emu, v, audio))[1])["data"]["task_id"] for v in (
            video, emu.upload(sample_video(1.5), "other.mp4")
        )]
        for job_id in ids:  # first polls pass
            assert answer(send(emu, "GET", f"/jogg/v2/lip_sync_video/{job_id}"))[0] == 200
        first = send(emu, "GET", f"/jogg/v2/lip_sync_video/{ids[0]}")
        second = send(emu, "GET", f"/jogg/v2/lip_sync_video/{ids[1]}")
        held = emu.holds.wait(2, point=HoldPoint.POLL)
        assert sorted(h.job_id or "" for h in held) == sorted(ids)
        assert {h.attempt for h in held} == {2}
        by_job = {h.job_id: h for h in held}
        hang_up(first)
        assert by_job[ids[0]].wait_ended() is HoldEnd.GONE
        assert by_job[ids[1]].holding
        released = emu.holds.release(HoldPoint.POLL)
        assert released == [by_job[ids[1]]]
        assert answer(second)[0] == 200
        # A third poll is not held.
        assert answer(send(emu, "GET", f"/jogg/v2/lip_sync_video/{ids[0]}"))[0] == 200
        polls = [
            (a.identity, a.status, a.fault) for a in emu.ledger.arrivals if a.endpoint == "poll"
        ]
        assert (ids[0], None, "hold") in polls and (ids[1], 200, "hold") in polls
        assert len(polls) == 5


def finished_output(emu: Emulator, video: str, audio: str) -> str:
    """A finished job's result URL, waited for on the emulator's virtual clock."""
    client = Client(
        clock=emu.clock,
        ledger=False, api_keys={"jogg": emu.key},
        base_urls={"jogg": emu.base_url("jogg")},
    )
    handle = client.submit("jogg", JobRequest(video=video, audio=audio, sync_mode="bounce"))
    return client.wait(handle).video_url


@pytest.mark.parametrize("client_goes", [True, False])
def test_a_download_held_after_some_bytes_is_cut_or_finished(client_goes: bool) -> None:
    with emulator("download:hold=2@1000") as (emu, video, audio):
        url = finished_output(emu, video, audio)
        whole = HTTP.request("GET", url).data  # the first fetch is not held
        sock = send(emu, "GET", urlsplit(url).path)
        [held] = emu.holds.wait(1)
        assert (held.point, held.identity, held.attempt) == (
            HoldPoint.DOWNLOAD, urlsplit(url).path.split("/")[2], 2
        )
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200 and response.length == len(whole)
        assert response.read(1000) == whole[:1000]
        if client_goes:
            response.close()  # it holds the socket open too
            hang_up(sock)
            assert held.wait_ended() is HoldEnd.GONE
        else:
            held.release()
            assert response.read() == whole[1000:]
            sock.close()
            assert held.end is HoldEnd.RELEASED
        fetches = [a for a in emu.ledger.arrivals if a.identity == held.identity]
        assert [(a.status, a.fault) for a in fetches] == [(200, None), (200, "hold")]


def test_the_control_api_lists_and_releases_holds() -> None:
    with emulator("submit:hold-before=1") as (emu, video, audio):
        sock = submit(emu, video, audio)
        emu.holds.wait(1)
        listed = json.loads(HTTP.request("GET", f"{emu.url}/_emulator/holds").data)["holds"]
        assert [(h["point"], h["end"]) for h in listed] == [("submit-before", None)]
        released = HTTP.request("POST", f"{emu.url}/_emulator/holds/release")
        assert [h["point"] for h in json.loads(released.data)["released"]] == ["submit-before"]
        assert answer(sock)[0] == 200


def test_disarmed_holds_hold_nothing_and_closing_releases_what_is_held() -> None:
    with emulator("submit:hold-before=1") as (emu, video, audio):
        held_sock = submit(emu, video, audio)
        [held] = emu.holds.wait(1)
        emu.holds.disarm()
        other = emu.upload(sample_video(1.5), "other.mp4")
        assert answer(submit(emu, other, audio))[0] == 200  # its attempt 1: not held
        assert emu.holds.reached() == [held] and emu.holds.holding() == [held]
    # Closing the emulator released the held submit; its client is answered or dropped.
    assert held.wait_ended() is HoldEnd.RELEASED
    held_sock.close()


def test_waiting_for_a_hold_stops_when_told_to() -> None:
    with emulator("poll:hold=1") as (emu, _, _):
        stop = threading.Event()
        waited: list[int] = []

        def waiter() -> None:
            waited.append(len(emu.holds.wait(1, unless=stop.is_set)))

        thread = threading.Thread(target=waiter)
        thread.start()
        stop.set()
        emu.holds.poke()
        thread.join(timeout=60)
        assert waited == [0]
        with pytest.raises(TimeoutError, match="0 of 1 holds"):
            emu.holds.wait(1, timeout=0)
