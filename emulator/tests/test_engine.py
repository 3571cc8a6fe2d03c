"""The emulator's shared engine: fault specs, the virtual clock, resets on the wire, file
expiry, the control API, callbacks' host rule, the plugin dialect hook, and the demo."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import urllib3

import lipbridge_emulator
from lipbridge import Client, JobRequest
from lipbridge.cli.render import money
from lipbridge.context import SystemClock
from lipbridge.errors import ProviderUnavailable, SubmitOutcomeUnknown
from lipbridge_emulator import CooperativeClock, Emulator, Timing, parse, samples
from lipbridge_emulator.clock import Cooperative, cooperation
from lipbridge_emulator.demo import run_demo
from lipbridge_emulator.faults import FaultSpecError, draw

HTTP = urllib3.PoolManager(retries=False)


# -- fault specs ----------------------------------------------------------------------------


def test_fault_spec_parses_every_fault() -> None:
    spec = parse("submit:5xx=0.1,reset=0.1,429=0.02@3;poll:slow=0.5@2,reset-after=0.2;job:late=1@7")
    submit, poll, job = spec.for_target("submit"), spec.for_target("poll"), spec.for_target("job")
    assert (submit.server_error, submit.reset_before, submit.reset_after) == (0.1, 0.05, 0.05)
    assert (submit.rate_limit, submit.rate_limit_seconds) == (0.02, 3.0)
    assert (poll.slow, poll.slow_seconds, poll.reset_after, poll.reset_before) == (0.5, 2.0, 0.2, 0)
    assert (job.late, job.late_seconds) == (1.0, 7.0)
    assert spec.for_target("download").server_error == 0  # no rule, no "*": no faults


def test_star_applies_where_no_rule_names_the_endpoint() -> None:
    spec = parse("*:5xx=0.3;poll:reset=0.2")
    assert spec.for_target("submit").server_error == 0.3
    assert spec.for_target("poll").server_error == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("render:5xx=0.1", "must start with a target"),
        ("5xx=0.1", "must start with a target"),
        ("poll:5xx=1.5", "not a probability"),
        ("poll:boom=0.1", "is not understood"),
        ("poll:late=0.1", "late applies to the job target only"),
        ("job:5xx=0.1", "late applies to the job target only"),
    ],
)
def test_bad_fault_specs_name_the_rule_and_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(FaultSpecError, match=says):
        parse(text)


def test_draws_are_fixed_by_seed_and_key() -> None:
    assert draw(1, "poll", "x", 1) == draw(1, "poll", "x", 1)
    assert draw(1, "poll", "x", 1) != draw(2, "poll", "x", 1)
    values = [draw(0, "k", i) for i in range(2000)]
    assert all(0 <= v < 1 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55


# -- the virtual clock ------------------------------------------------------------------------


def test_virtual_clock_wakes_sleepers_in_order_without_real_waiting() -> None:
    clock = CooperativeClock()
    woke: list[tuple[str, float]] = []

    def nap(name: str, seconds: float) -> None:
        clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    threads = [threading.Thread(target=nap, args=(n, s)) for n, s in [("a", 300), ("b", 60)]]
    token = clock.hold()  # else time may jump to a's wake-up before b is asleep
    for thread in threads:
        thread.start()
    clock.wait_for_sleepers(2)
    clock.release(token)
    for thread in threads:
        thread.join(timeout=60)
    assert woke == [("b", 60.0), ("a", 300.0)]


def test_virtual_clock_does_not_jump_while_work_is_held() -> None:
    clock = CooperativeClock()
    token = clock.hold()
    sleeper = threading.Thread(target=clock.sleep, args=(5.0,))
    sleeper.start()
    clock.wait_for_sleepers(1)
    sleeper.join(timeout=0.05)  # the clock's chance to jump wrongly; never a false failure
    assert sleeper.is_alive() and clock.monotonic() == 0.0
    clock.release(token)
    sleeper.join(timeout=60)
    assert not sleeper.is_alive() and clock.monotonic() == 5.0


def test_only_a_cooperative_clock_is_marked() -> None:
    clock = CooperativeClock()
    assert cooperation(clock) is clock
    alone = cooperation(SystemClock())
    assert not isinstance(SystemClock(), Cooperative)
    token = alone.hold()
    with alone.busy():
        alone.release(token)


def test_the_old_clock_name_still_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match="CooperativeClock"):
        old = lipbridge_emulator.VirtualClock
    assert old is CooperativeClock


# -- over the wire ----------------------------------------------------------------------------


@pytest.fixture
def media() -> tuple[bytes, bytes]:
    return samples.sample_video(1.0), samples.sample_speech(1.0)


def _jogg_client(emu: Emulator, clock: CooperativeClock, **kw: object) -> Client:
    return Client(
        clock=clock, api_keys={"jogg": emu.key}, base_urls={"jogg": emu.base_url("jogg")}, **kw
    )


def test_a_render_holds_time_until_a_poll_can_see_it_done(
    media: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Released any earlier, time could pass the job's end while polls still saw it running."""
    clock = CooperativeClock()
    renders_done: list[bool] = []
    with Emulator(clock=clock, timing=Timing(job_seconds=5)) as emu:
        release = clock.release

        def checked_release(token: object) -> None:
            renders_done.append(all(f.done() for f in emu._inputs._renders.values()))
            release(token)

        monkeypatch.setattr(clock, "release", checked_release)
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        client = _jogg_client(emu, clock)
        client.wait(client.submit("jogg", JobRequest(video=video, audio=audio, sync_mode="bounce")))
    assert renders_done == [True]


def test_a_reset_after_the_body_was_read_loses_an_accepted_submit(
    media: tuple[bytes, bytes],
) -> None:
    clock = CooperativeClock()
    with Emulator(clock=clock, faults="submit:reset-after=1") as emu:
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        client = _jogg_client(emu, clock)
        with pytest.raises(SubmitOutcomeUnknown) as caught:
            client.submit("jogg", JobRequest(video=video, audio=audio, sync_mode="bounce"))
        [accepted] = emu.ledger.accepted
        assert not accepted.answered
        assert accepted.fingerprint == caught.value.details["request_fingerprint"]


def test_a_reset_before_the_body_is_read_creates_no_job(media: tuple[bytes, bytes]) -> None:
    clock = CooperativeClock()
    with Emulator(clock=clock, faults="submit:reset-before=1") as emu:
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        client = _jogg_client(emu, clock)
        with pytest.raises((SubmitOutcomeUnknown, ProviderUnavailable)):
            client.submit("jogg", JobRequest(video=video, audio=audio, sync_mode="bounce"))
        assert emu.ledger.accepted == []
        assert {a.fault for a in emu.ledger.arrivals if a.endpoint == "submit"} == {"reset-before"}


def test_slow_replies_take_emulator_time(media: tuple[bytes, bytes]) -> None:
    clock = CooperativeClock()
    with Emulator(clock=clock, faults="submit:slow=1@42") as emu:
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        _jogg_client(emu, clock).submit(
            "jogg", JobRequest(video=video, audio=audio, sync_mode="bounce")
        )
        assert clock.monotonic() >= 42
        assert emu.ledger.accepted[0].at >= 42


def test_outputs_expire_and_uploads_do_not(media: tuple[bytes, bytes]) -> None:
    clock = CooperativeClock()
    with Emulator(clock=clock, url_lifetime=60, timing=Timing(job_seconds=5)) as emu:
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        client = _jogg_client(emu, clock)
        result = client.wait(
            client.submit("jogg", JobRequest(video=video, audio=audio, sync_mode="bounce"))
        )
        assert HTTP.request("GET", result.video_url).status == 200
        clock.advance(61)
        expired = HTTP.request("GET", result.video_url)
        assert expired.status == 403 and b"expired" in expired.data
        assert HTTP.request("GET", video).status == 200


def test_inputs_from_other_hosts_are_refused_and_the_job_fails(
    media: tuple[bytes, bytes],
) -> None:
    clock = CooperativeClock()
    with Emulator(clock=clock, timing=Timing(job_seconds=5)) as emu:
        audio = emu.upload(media[1], "a.wav")
        client = _jogg_client(emu, clock)
        handle = client.submit(
            "jogg",
            JobRequest(video="https://example.com/face.mp4", audio=audio, sync_mode="bounce"),
        )
        status = client.poll(handle)
        while not status.state.terminal:
            clock.sleep(5)
            status = client.poll(handle)
        assert status.state.value == "failed"
        assert status.error is not None and "fetches only" in status.error.message
        assert emu.ledger.arrivals[-1].path.startswith("/jogg/")  # nothing went to example.com


def test_control_api_uploads_and_reports_the_ledger_and_credits(
    media: tuple[bytes, bytes],
) -> None:
    with Emulator() as emu:
        uploaded = HTTP.request("POST", f"{emu.url}/files?name=face.mp4", body=media[0])
        assert uploaded.status == 201
        url = json.loads(uploaded.data)["url"]
        assert HTTP.request("GET", url).data == media[0]
        credits = HTTP.request(
            "POST", f"{emu.url}/_emulator/credits", body=b'{"provider": "jogg", "credits": 3}'
        )
        assert credits.status == 200 and emu.credits["jogg"] == Decimal(3)
        bad = HTTP.request("POST", f"{emu.url}/_emulator/credits", body=b"{}")
        assert bad.status == 400 and b"provider" in bad.data
        ledger = json.loads(HTTP.request("GET", f"{emu.url}/_emulator/ledger").data)
        assert [a["endpoint"] for a in ledger["arrivals"]][:2] == ["upload", "download"]
        unknown = HTTP.request("GET", f"{emu.url}/nowhere/v1")
        assert unknown.status == 404 and b"/foxapi" in unknown.data


def test_a_body_too_large_or_unreadable_length_gets_413() -> None:
    with Emulator() as emu:
        sock = socket.create_connection(("127.0.0.1", int(emu.url.rsplit(":", 1)[1])))
        with sock:
            sock.sendall(b"POST /files HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n")
            answer = b"".join(iter(lambda: sock.recv(4096), b""))  # it closes the connection
        assert answer.startswith(b"HTTP/1.1 413") and b"Content-Length 'lots'" in answer


def test_callbacks_go_only_to_loopback(media: tuple[bytes, bytes]) -> None:
    clock = CooperativeClock()
    with Emulator(clock=clock, timing=Timing(job_seconds=5)) as emu:
        video, audio = emu.upload(media[0], "v.mp4"), emu.upload(media[1], "a.wav")
        body = json.dumps(
            {"video": video, "audio": audio, "callback_url": "https://example.com/hook"}
        ).encode()
        headers = {"Authorization": f"Bearer {emu.key}", "Content-Type": "application/json"}
        submitted = HTTP.request(
            "POST", f"{emu.base_url('foxapi')}/v1/videos/generations", body=body, headers=headers
        )
        assert submitted.status == 200
        clock.sleep(60)
        [attempt] = emu.ledger.callbacks
        assert attempt.status is None and "refused" in (attempt.error or "")


# -- the command line -------------------------------------------------------------------------


def test_demo_runs_every_provider_and_measures_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "user" / "config.toml"  # a user's own price must not reach the demo
    prices.parent.mkdir()
    prices.write_text('[providers.jogg]\nprices = { "lipsync" = 9 }\n')
    monkeypatch.setenv("LIPBRIDGE_CONFIG_PATH", str(prices))
    outcomes = run_demo([], tmp_path, speed=1.0, clock=CooperativeClock())
    assert f"samples, videos and the job ledger are in {tmp_path}" in capsys.readouterr().out
    assert {o.provider for o in outcomes} == {
        "aihubmax", "aimlapi", "fal", "foxapi", "jogg", "replicate", "syncso"
    }
    for outcome in outcomes:
        assert outcome.error is None and outcome.path is not None and outcome.path.is_file()
        assert outcome.seconds is not None and outcome.seconds > 0
    jogg = next(o for o in outcomes if o.provider == "jogg")
    assert jogg.estimate is not None and jogg.estimate.known
    assert jogg.estimate.source is not None and jogg.estimate.source.table_version != "your price"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal(320000), "320000"),
        (Decimal("0.160000000"), "0.16"),
        (Decimal("4.0"), "4"),
        (None, "-"),
    ],
)
def test_demo_prints_amounts_without_losing_digits(amount: Decimal | None, text: str) -> None:
    assert money(amount) == text


def test_emulator_command_prints_base_urls_and_serves() -> None:
    command = "from lipbridge.cli import main; main()"
    proc = subprocess.Popen(  # port 0: a port picked here could be taken before it binds
        [sys.executable, "-c", command, "emulator", "--port=0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]  # the header, the exports, then the samples
        while "sample video" not in lines[-1] and lines[-1] and len(lines) < 100:
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        url = lines[0].split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert f"{url}/foxapi" in text
        assert "LIPBRIDGE_JOGG_BASE_URL" in text and "export LIPBRIDGE_JOGG_API_KEY=" in text
        sample = next(line.split(": ", 1)[1].strip() for line in lines if "sample video" in line)
        assert HTTP.request("GET", sample).status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
