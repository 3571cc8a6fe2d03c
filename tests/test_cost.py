"""Cost estimates: the sync-mode rule, price tables, the client's offline estimate, probing."""

from __future__ import annotations

import datetime as dt
import math
import random
import wave
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import FakeClock, ForbiddenTransport, make_registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lipbridge import Client, ConfigurationError, CostEstimate, InvalidRequest, JobRequest, SyncMode
from lipbridge.media import probe_seconds
from lipbridge.plugin import PriceTable
from lipbridge.pricing import output_seconds

FEW = settings(max_examples=50, deadline=None)
VIDEO = "https://cdn.example/in/face.mp4"
AUDIO = "https://cdn.example/in/voice.wav"
TOLERANCE = 0.05

durations = st.floats(min_value=0.0, max_value=100_000.0, allow_nan=False)
maybe_durations = st.none() | durations


# --- the sync-mode rule -----------------------------------------------------------------------


@FEW
@given(mode=st.sampled_from([SyncMode.BOUNCE, SyncMode.LOOP, SyncMode.REMAP]),
       video=maybe_durations, audio=maybe_durations)  # fmt: skip
def test_bounce_loop_remap_follow_the_audio(
    mode: SyncMode, video: float | None, audio: float | None
) -> None:
    assert output_seconds(mode, video, audio) == audio


@FEW
@given(video=durations, audio=durations)
def test_cut_off_takes_the_shorter(video: float, audio: float) -> None:
    out = output_seconds(SyncMode.CUT_OFF, video, audio)
    assert out == min(video, audio)
    assert out <= video
    assert out <= audio


@FEW
@given(known=durations, swap=st.booleans())
def test_cut_off_needs_both_lengths(known: float, swap: bool) -> None:
    args = (None, known) if swap else (known, None)
    assert output_seconds(SyncMode.CUT_OFF, *args) is None


@FEW
@given(video=maybe_durations, audio=maybe_durations)
def test_silence_follows_the_video(video: float | None, audio: float | None) -> None:
    assert output_seconds(SyncMode.SILENCE, video, audio) == video


def test_no_mode_means_no_output_length() -> None:
    assert output_seconds(None, 10.0, 4.0) is None


def test_rule_covers_every_mode() -> None:
    """Each mode picks the input named in its rule; a new mode must be added here."""
    picked = {mode: output_seconds(mode, 10.0, 4.0) for mode in SyncMode}
    assert picked == {
        SyncMode.BOUNCE: 4.0,
        SyncMode.LOOP: 4.0,
        SyncMode.REMAP: 4.0,
        SyncMode.CUT_OFF: 4.0,
        SyncMode.SILENCE: 10.0,
    }
    assert output_seconds(SyncMode.CUT_OFF, 3.0, 4.0) == 3.0  # the shorter, not the audio


# --- PriceTable -------------------------------------------------------------------------------

AS_OF = dt.date(2026, 11, 1)


def per_second_table(**kw: object) -> PriceTable:
    """acme-like: 5 credits per started second, 0.01 USD per credit."""
    args: dict[str, object] = {
        "provider": "acme",
        "unit": "credits",
        "rates": {"m": Decimal(5)},
        "source_url": "https://acme.invalid/pricing",
        "as_of": AS_OF,
        "version": "v1",
        "usd_per_unit": Decimal("0.01"),
        "round_seconds_up": True,
    }
    args.update(kw)
    return PriceTable(**args)  # type: ignore[arg-type]


def jogg_like_table() -> PriceTable:
    """1 credit per 125 s of output, billed to the cent, rounded up."""
    return PriceTable(
        provider="jogg",
        unit="credits",
        rates={"m": Decimal(1) / Decimal(125)},
        source_url="https://jogg.invalid/pricing",
        as_of=AS_OF,
        version="v1",
        quantum=Decimal("0.01"),
    )


def plain_table() -> PriceTable:
    """No rounding at all: the exact product."""
    return PriceTable(
        provider="plain",
        unit="USD",
        rates={"m": Decimal("0.05")},
        source_url="https://plain.invalid/pricing",
        as_of=AS_OF,
        version="v1",
    )


@pytest.mark.parametrize(
    ("seconds", "quantity", "amount"),
    [
        (2.1, 3, 15),
        (2.0, 2, 10),
        (2.000001, 3, 15),
        (0.1, 1, 5),
        (0.0, 0, 0),
    ],
)
def test_started_seconds_are_billed_whole(seconds: float, quantity: int, amount: int) -> None:
    est = per_second_table().estimate("m", seconds)
    assert est.quantity == quantity
    assert est.amount == amount
    assert isinstance(est.amount, Decimal)
    assert est.known


def test_usd_is_converted_from_the_unit() -> None:
    est = per_second_table().estimate("m", 2.1)
    assert est.amount == Decimal(15)
    assert est.usd == Decimal("0.15")
    assert isinstance(est.usd, Decimal)
    assert est.unit == "credits"


def test_no_usd_rate_means_no_usd() -> None:
    est = per_second_table(usd_per_unit=None).estimate("m", 3)
    assert est.amount == 15
    assert est.usd is None


@pytest.mark.parametrize(
    ("seconds", "amount"),
    [
        (10, Decimal("0.08")),  # 10/125 = 0.08 exactly: no rounding
        (11, Decimal("0.09")),  # 0.088 -> up to the next cent
        (1, Decimal("0.01")),  # 0.008 -> a cent, never zero
        (125, Decimal("1.00")),
        (126, Decimal("1.01")),  # 1.008 -> 1.01
        (0, Decimal("0.00")),
    ],
)
def test_amount_rounds_up_to_the_quantum(seconds: float, amount: Decimal) -> None:
    est = jogg_like_table().estimate("m", seconds)
    assert est.amount == amount
    assert est.amount == est.amount.quantize(Decimal("0.01"))  # whole cents
    assert est.quantity == Decimal(seconds)  # seconds are not rounded in this table


def test_estimate_cites_its_source() -> None:
    est = per_second_table().estimate("m", 1)
    assert est.source is not None
    assert est.source.url == "https://acme.invalid/pricing"
    assert est.source.as_of == AS_OF
    assert est.source.table_version == "v1"
    assert est.provider == "acme"
    assert est.model == "m"


def test_unknown_model_is_unknown_with_a_reason() -> None:
    est = per_second_table().estimate("other-model", 10)
    assert est.amount is None
    assert not est.known
    assert est.usd is None
    assert est.unknown_reason
    assert "other-model" in est.unknown_reason
    assert est.model == "other-model"


def test_unknown_duration_is_unknown_with_a_reason() -> None:
    est = per_second_table().estimate("m", None)
    assert est.amount is None
    assert not est.known
    assert est.unknown_reason
    assert "duration" in est.unknown_reason


TABLES = {"per-second": per_second_table, "jogg-like": jogg_like_table, "plain": plain_table}


@pytest.mark.parametrize("make", list(TABLES.values()), ids=list(TABLES))
@FEW
@given(a=durations, b=durations)
def test_estimate_never_decreases_as_duration_grows(
    make: Callable[[], PriceTable], a: float, b: float
) -> None:
    short, long = sorted((a, b))
    table = make()
    assert table.estimate("m", short).amount <= table.estimate("m", long).amount


@pytest.mark.parametrize("make", list(TABLES.values()), ids=list(TABLES))
@FEW
@given(seconds=durations)
def test_estimate_never_undercharges_and_rounds_by_at_most_a_step(
    make: Callable[[], PriceTable], seconds: float
) -> None:
    table = make()
    rate = table.rates["m"]
    exact = Decimal(str(seconds)) * rate
    amount = table.estimate("m", seconds).amount
    assert amount >= exact
    step = Decimal(0)
    if table.round_seconds_up:
        step += rate  # at most one started second
    if table.quantum is not None:
        step += table.quantum
    assert amount - exact <= step
    if step == 0:
        assert amount == exact


# --- Client.estimate_cost on the acme test provider ---------------------------------------------


@pytest.fixture
def keyless_client(standard_site: Path, clock: FakeClock) -> Iterator[Client]:
    """No API key anywhere, and a transport that fails the test on any HTTP request."""
    with Client(
        registry=make_registry(standard_site),
        environ={},
        clock=clock,
        transport=ForbiddenTransport(),
        rng=random.Random(7),
    ) as client:
        yield client


def remote(**kw: object) -> JobRequest:
    return JobRequest(video=VIDEO, audio=AUDIO, **kw)  # type: ignore[arg-type]


def test_keyless_client_really_has_no_key(keyless_client: Client) -> None:
    """A control: submit needs the key and says so, before any HTTP request."""
    with pytest.raises(ConfigurationError):
        keyless_client.submit("acme", remote())


def test_estimate_cut_off_prices_the_shorter_input(keyless_client: Client) -> None:
    est = keyless_client.estimate_cost(
        "acme", remote(sync_mode="cut_off"), video_seconds=10, audio_seconds=4
    )
    assert est.known
    assert (est.provider, est.model) == ("acme", "acme-1")
    assert est.quantity == 4
    assert est.amount == Decimal(20)
    assert est.unit == "credits"
    assert est.usd == Decimal("0.20")
    assert est.source is not None
    assert est.source.url == "https://acme.invalid/pricing"
    assert est.source.as_of == dt.date(2026, 11, 1)
    assert est.source.table_version == "2026-11"


def test_estimate_silence_prices_the_video(keyless_client: Client) -> None:
    est = keyless_client.estimate_cost(
        "acme", remote(sync_mode="silence"), video_seconds=10, audio_seconds=4
    )
    assert est.quantity == 10
    assert est.amount == Decimal(50)
    assert est.usd == Decimal("0.50")


def test_estimate_default_mode_of_acme_1_is_loop(keyless_client: Client) -> None:
    """acme-1 declares loop as its default, so the audio decides when no mode is given."""
    assert keyless_client.info("acme").model("acme-1").default_sync_mode is SyncMode.LOOP
    est = keyless_client.estimate_cost("acme", remote(), audio_seconds=4)
    assert est.quantity == 4
    assert est.amount == Decimal(20)


RULE = {
    SyncMode.BOUNCE: lambda v, a: a,
    SyncMode.LOOP: lambda v, a: a,
    SyncMode.REMAP: lambda v, a: a,
    SyncMode.CUT_OFF: min,
    SyncMode.SILENCE: lambda v, a: v,
}


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mode=st.sampled_from(SyncMode), video=durations, audio=durations)
def test_estimate_follows_the_sync_mode_rule(
    keyless_client: Client, mode: SyncMode, video: float, audio: float
) -> None:
    est = keyless_client.estimate_cost(
        "acme", remote(sync_mode=mode), video_seconds=video, audio_seconds=audio
    )
    seconds = math.ceil(RULE[mode](video, audio))  # acme bills every started second
    assert est.quantity == seconds
    assert est.amount == 5 * seconds
    assert est.usd == Decimal(5 * seconds) / 100  # 0.01 USD per credit


def test_estimate_on_acme_lite_is_unknown(keyless_client: Client) -> None:
    est = keyless_client.estimate_cost(
        "acme", remote(model="acme-lite"), video_seconds=10, audio_seconds=4
    )
    assert isinstance(est, CostEstimate)
    assert est.amount is None
    assert not est.known
    assert est.model == "acme-lite"
    assert est.unknown_reason
    assert "acme-lite" in est.unknown_reason


@pytest.mark.parametrize(
    ("mode", "known", "field"),
    [
        ("loop", {}, "audio_seconds"),
        ("loop", {"video_seconds": 10}, "audio_seconds"),
        ("bounce", {"video_seconds": 10}, "audio_seconds"),
        ("remap", {"video_seconds": 10}, "audio_seconds"),
        ("silence", {"audio_seconds": 4}, "video_seconds"),
        ("cut_off", {"audio_seconds": 4}, "video_seconds"),
        ("cut_off", {"video_seconds": 10}, "audio_seconds"),
    ],
)
def test_remote_urls_need_the_durations_the_mode_uses(
    keyless_client: Client, mode: str, known: dict[str, float], field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        keyless_client.estimate_cost("acme", remote(sync_mode=mode), **known)
    assert type(caught.value) is InvalidRequest
    assert caught.value.field == field
    assert field in caught.value.message


@pytest.mark.parametrize("bad", [-1.0, -0.001, -1, math.nan, math.inf, -math.inf, "10", True])
@pytest.mark.parametrize("field", ["video_seconds", "audio_seconds"])
def test_bad_duration_is_invalid_request(keyless_client: Client, field: str, bad: float) -> None:
    durations_given = {"video_seconds": 10.0, "audio_seconds": 4.0, field: bad}
    with pytest.raises(InvalidRequest) as caught:
        keyless_client.estimate_cost("acme", remote(sync_mode="cut_off"), **durations_given)
    assert caught.value.field == field
    assert field in caught.value.message
    assert repr(bad) in caught.value.message


@pytest.mark.parametrize("field", ["video_seconds", "audio_seconds"])
def test_zero_duration_is_a_free_estimate(keyless_client: Client, field: str) -> None:
    durations_given = {"video_seconds": 10.0, "audio_seconds": 4.0, field: 0.0}
    est = keyless_client.estimate_cost("acme", remote(sync_mode="cut_off"), **durations_given)
    assert est.known
    assert est.amount == 0


# --- probing local media ----------------------------------------------------------------------


def write_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    """A mono 8-bit tone; stdlib only."""
    frames = bytes(
        int(128 + 100 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def write_mp4(path: Path, frames: int = 15, fps: int = 10, size: int = 64) -> Path:
    """A tiny silent clip (1.5 s at 10 fps by default) encoded with PyAV."""
    av = pytest.importorskip("av")
    last: Exception | None = None
    for codec in ("mpeg4", "libx264"):
        try:
            with av.open(str(path), "w") as container:
                stream = container.add_stream(codec, rate=fps)
                stream.width = size
                stream.height = size
                stream.pix_fmt = "yuv420p"
                for i in range(frames):
                    frame = av.VideoFrame(size, size, "yuv420p")
                    for plane in frame.planes:
                        plane.update(bytes([(i * 16) % 256]) * plane.buffer_size)
                    frame.pts = i
                    for packet in stream.encode(frame):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
            return path
        except Exception as exc:  # an encoder missing from this PyAV build: try the next
            last = exc
    raise AssertionError(f"no usable video encoder in PyAV: {last}")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("av")
    root = tmp_path_factory.mktemp("media")
    junk = root / "junk.mp4"
    junk.write_bytes(b"this is not a video, just text pretending to be one\n" * 8)
    return {
        "wav": write_wav(root / "tone.wav"),
        "mp4": write_mp4(root / "clip.mp4"),
        "junk": junk,
    }


def test_probe_wav(clips: dict[str, Path]) -> None:
    assert probe_seconds(clips["wav"], "audio") == pytest.approx(2.0, abs=TOLERANCE)


def test_probe_mp4(clips: dict[str, Path]) -> None:
    assert clips["mp4"].stat().st_size < 20_000  # kept tiny
    assert probe_seconds(clips["mp4"], "video") == pytest.approx(1.5, abs=TOLERANCE)


@pytest.mark.parametrize("field", ["video", "audio"])
def test_probe_non_media_is_invalid_request(clips: dict[str, Path], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        probe_seconds(clips["junk"], field)
    assert caught.value.field == field
    assert str(clips["junk"]) in caught.value.message


def test_probe_missing_file_is_invalid_request(clips: dict[str, Path]) -> None:
    missing = clips["wav"].with_name("missing.wav")
    with pytest.raises(InvalidRequest) as caught:
        probe_seconds(missing, "audio")
    assert caught.value.field == "audio"


@pytest.mark.parametrize(
    ("mode", "video", "audio", "output"),
    [
        ("cut_off", 1.5, 2.0, 1.5),
        ("silence", 1.5, None, 1.5),  # only what the mode needs is measured
        ("loop", None, 2.0, 2.0),
        ("bounce", None, 2.0, 2.0),
    ],
)
def test_durations_probes_local_files(
    offline_client: Client,
    clips: dict[str, Path],
    mode: str,
    video: float | None,
    audio: float | None,
    output: float,
) -> None:
    req = JobRequest(video=str(clips["mp4"]), audio=str(clips["wav"]), sync_mode=mode)
    got = offline_client.durations(req, offline_client.info("acme"))
    for measured, expected in ((got.video_seconds, video), (got.audio_seconds, audio)):
        if expected is None:
            assert measured is None
        else:
            assert measured == pytest.approx(expected, abs=TOLERANCE)
    assert got.output_seconds == pytest.approx(output, abs=TOLERANCE)


def test_durations_accepts_file_urls(offline_client: Client, clips: dict[str, Path]) -> None:
    video, audio = clips["mp4"].as_uri(), clips["wav"].as_uri()
    req = JobRequest(video=video, audio=audio, sync_mode="cut_off")
    got = offline_client.durations(req, offline_client.info("acme"))
    assert got.video_seconds == pytest.approx(1.5, abs=TOLERANCE)
    assert got.audio_seconds == pytest.approx(2.0, abs=TOLERANCE)


def test_given_durations_win_over_probing(offline_client: Client, clips: dict[str, Path]) -> None:
    req = JobRequest(video=str(clips["mp4"]), audio=str(clips["wav"]), sync_mode="cut_off")
    got = offline_client.durations(req, offline_client.info("acme"), video_seconds=7.0)
    assert got.video_seconds == 7.0
    assert got.audio_seconds == pytest.approx(2.0, abs=TOLERANCE)
    assert got.output_seconds == pytest.approx(2.0, abs=TOLERANCE)


def test_durations_mixes_local_and_remote(offline_client: Client, clips: dict[str, Path]) -> None:
    req = JobRequest(video=VIDEO, audio=str(clips["wav"]), sync_mode="cut_off")
    got = offline_client.durations(req, offline_client.info("acme"), video_seconds=30.0)
    assert got.output_seconds == pytest.approx(2.0, abs=TOLERANCE)
    req = JobRequest(video=VIDEO, audio=str(clips["wav"]), sync_mode="cut_off")
    with pytest.raises(InvalidRequest) as caught:
        offline_client.durations(req, offline_client.info("acme"))
    assert caught.value.field == "video_seconds"  # the remote video cannot be measured


@pytest.mark.parametrize("which", ["video", "audio"])
def test_durations_non_media_is_invalid_request(
    offline_client: Client, clips: dict[str, Path], which: str
) -> None:
    refs = {"video": str(clips["mp4"]), "audio": str(clips["wav"]), which: str(clips["junk"])}
    req = JobRequest(sync_mode="cut_off", **refs)
    with pytest.raises(InvalidRequest) as caught:
        offline_client.durations(req, offline_client.info("acme"))
    assert caught.value.field == which


def test_without_any_sync_mode_no_duration_is_demanded_and_the_output_is_unknown(
    offline_client: Client,
) -> None:
    from lipbridge.plugin import ModelCapabilities, ProviderInfo

    info = ProviderInfo(
        name="acme", display_name="Acme", docs_url="https://docs.acme.invalid",
        contract_version="1.0", default_base_url="https://api.acme.invalid",
        models=(ModelCapabilities(name="plain"),), default_model="plain",
    )
    request = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")
    durations = offline_client.durations(request, info, audio_seconds=9.0)
    assert (durations.video_seconds, durations.audio_seconds) == (None, 9.0)
    assert durations.output_seconds is None
