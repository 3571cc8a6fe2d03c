"""Request validation: submit and estimate_cost refuse the same requests, with no HTTP at all.

``offline_client`` fails the test on any HTTP request, so every refusal here also proves
that nothing reached the network.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lipbridge_testprov import AcmeLike

from lipbridge import (
    Client,
    CostEstimate,
    InvalidRequest,
    JobRequest,
    OptionDropped,
    TextToSpeech,
    UnsupportedOption,
)
from lipbridge.models import CALLBACK_URL_MAX_LENGTH, shown
from lipbridge.validation import validate

VIDEO = "https://cdn.example/in/face.mp4"
AUDIO = "https://cdn.example/in/voice.wav"
HOOK = "https://hooks.example/lipbridge"
SECONDS = {"video_seconds": 10.0, "audio_seconds": 4.0}
ALL_MODES = ("bounce", "loop", "cut_off", "silence", "remap")


def url_of_length(n: int) -> str:
    base = "https://hooks.example/"
    return base + "a" * (n - len(base))


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """Small local inputs for acme-lite (which takes local files up to 1000 bytes)."""
    (tmp_path / "small.mp4").write_bytes(b"\0" * 10)
    (tmp_path / "small.wav").write_bytes(b"\0" * 10)
    (tmp_path / "edge.mp4").write_bytes(b"\0" * 1000)
    (tmp_path / "edge.wav").write_bytes(b"\0" * 1000)
    (tmp_path / "big.mp4").write_bytes(b"\0" * 1001)
    (tmp_path / "big.wav").write_bytes(b"\0" * 1001)
    (tmp_path / "clip.avi").write_bytes(b"\0" * 10)
    (tmp_path / "voice.ogg").write_bytes(b"\0" * 10)
    return tmp_path


# --- helpers ----------------------------------------------------------------------------------


def assert_names(exc: InvalidRequest, field: str, value: object = None, *also: str) -> None:
    """The error names its field and shows the offending value (its repr, maybe cut short)."""
    message = exc.message
    assert exc.field == field, message
    assert field in message, message
    if value is not None:
        shows = (repr(value), shown(value))
        assert any(s in message for s in shows), f"{value!r} not in {message!r}"
    for text in also:
        assert text in message, f"{text!r} not in {message!r}"


def refused_alike(
    client: Client, build: Callable[[], JobRequest], *, drop_unsupported: bool = False
) -> InvalidRequest:
    """submit and estimate_cost both refuse ``build()`` with the same class and message."""
    with pytest.raises(InvalidRequest) as by_submit:
        client.submit("acme", build(), drop_unsupported=drop_unsupported)
    with pytest.raises(InvalidRequest) as by_estimate:
        client.estimate_cost("acme", build(), drop_unsupported=drop_unsupported, **SECONDS)
    assert type(by_submit.value) is type(by_estimate.value)
    assert by_submit.value.field == by_estimate.value.field
    assert by_submit.value.message == by_estimate.value.message
    return by_submit.value


@attrs.frozen
class Case:
    """One invalid request: what it is, what must be raised and what the message shows."""

    request: Callable[[Path], dict[str, Any]]
    error: type[InvalidRequest]
    field: str
    value: Callable[[Path], object] = lambda _: None
    also: tuple[str, ...] = ()
    allowed: tuple[str, ...] | None = None


def lite(**kw: Any) -> dict[str, Any]:
    return {"video": VIDEO, "audio": AUDIO, "model": "acme-lite", **kw}


def one(**kw: Any) -> dict[str, Any]:
    return {"video": VIDEO, "audio": AUDIO, "model": "acme-1", **kw}


def spoken(voice: str, model: str) -> dict[str, Any]:
    return {"video": VIDEO, "tts": TextToSpeech(text="hi", voice=voice), "model": model}


CASES = {
    # -- URL schemes --
    "video-ftp": Case(
        lambda d: one(video="ftp://files.example/face.mp4"),
        InvalidRequest, "video", lambda d: "ftp://files.example/face.mp4", ("http(s)",),
    ),
    "audio-javascript": Case(
        lambda d: one(audio="javascript:alert(1)"),
        InvalidRequest, "audio", lambda d: "javascript:alert(1)", ("http(s)",),
    ),
    "video-unbalanced-bracket": Case(
        lambda d: one(video="https://[cdn.example/face.mp4"),
        InvalidRequest, "video", lambda d: "https://[cdn.example/face.mp4", ("unbalanced",),
    ),
    "audio-port-out-of-range": Case(
        lambda d: one(audio="https://cdn.example:70000/voice.wav"),
        InvalidRequest, "audio", lambda d: "https://cdn.example:70000/voice.wav", ("port",),
    ),
    "video-port-not-a-number": Case(
        lambda d: lite(video="http://cdn.example:mp4/face.mp4"),
        InvalidRequest, "video", lambda d: "http://cdn.example:mp4/face.mp4", ("port",),
    ),
    "audio-whitespace": Case(
        lambda d: one(audio="https://cdn.example/my voice.wav"),
        InvalidRequest, "audio", lambda d: "https://cdn.example/my voice.wav", ("whitespace",),
    ),
    "video-control-character": Case(
        lambda d: one(video="https://cdn.example/face.mp4\x1b[0m"),
        InvalidRequest, "video", lambda d: "https://cdn.example/face.mp4\x1b[0m", ("control",),
    ),
    "video-ftp-on-lite": Case(
        lambda d: lite(video="ftp://files.example/face.mp4"),
        InvalidRequest, "video", lambda d: "ftp://files.example/face.mp4", ("http(s)",),
    ),
    "video-data-uri-on-acme-1": Case(
        lambda d: one(video="data:video/mp4;base64,AAAA"),
        UnsupportedOption, "video", lambda d: "data:video/mp4;base64,AAAA", ("http(s)",),
        allowed=("http", "https"),
    ),
    "audio-data-uri-on-acme-1": Case(
        lambda d: one(audio="data:audio/wav;base64," + "A" * 4000),
        UnsupportedOption, "audio", lambda d: "data:audio/wav;base64," + "A" * 4000,
        ("data:",), allowed=("http", "https"),
    ),
    # -- local files on acme-lite --
    "video-missing-file": Case(
        lambda d: lite(video=str(d / "missing.mp4")),
        InvalidRequest, "video", lambda d: str(d / "missing.mp4"), ("no such file",),
    ),
    "audio-missing-file": Case(
        lambda d: lite(audio=str(d / "missing.wav")),
        InvalidRequest, "audio", lambda d: str(d / "missing.wav"), ("no such file",),
    ),
    "video-wrong-extension": Case(
        lambda d: lite(video=str(d / "clip.avi")),
        UnsupportedOption, "video", lambda d: str(d / "clip.avi"), ("mp4",), allowed=("mp4",),
    ),
    "audio-wrong-extension": Case(
        lambda d: lite(audio=str(d / "voice.ogg")),
        UnsupportedOption, "audio", lambda d: str(d / "voice.ogg"), ("mp3", "wav"),
        allowed=("mp3", "wav"),
    ),
    "video-too-big": Case(
        lambda d: lite(video=str(d / "big.mp4")),
        InvalidRequest, "video", lambda d: str(d / "big.mp4"), ("1001", "1000"),
    ),
    "audio-too-big": Case(
        lambda d: lite(audio=str(d / "big.wav")),
        InvalidRequest, "audio", lambda d: str(d / "big.wav"), ("1001", "1000"),
    ),
    # -- callback_url --
    "callback-unbalanced-bracket": Case(
        lambda d: one(callback_url="https://hooks.example]/cb"),
        InvalidRequest, "callback_url", lambda d: "https://hooks.example]/cb", ("unbalanced",),
    ),
    "callback-port-not-a-number": Case(
        lambda d: one(callback_url="https://hooks.example:443x/cb"),
        InvalidRequest, "callback_url", lambda d: "https://hooks.example:443x/cb", ("port",),
    ),
    "callback-ftp": Case(
        lambda d: one(callback_url="ftp://hooks.example/cb"),
        InvalidRequest, "callback_url", lambda d: "ftp://hooks.example/cb", ("https",),
    ),
    "callback-http": Case(
        lambda d: one(callback_url="http://hooks.example/cb"),
        InvalidRequest, "callback_url", lambda d: "http://hooks.example/cb", ("https",),
    ),
    "callback-bare-http-scheme": Case(
        lambda d: one(callback_url="http://"),
        InvalidRequest, "callback_url", lambda d: "http://", ("https",),
    ),
    "callback-no-host": Case(
        lambda d: one(callback_url="https:///cb"),
        InvalidRequest, "callback_url", lambda d: "https:///cb", ("https",),
    ),
    "callback-too-long": Case(
        lambda d: one(callback_url=url_of_length(CALLBACK_URL_MAX_LENGTH + 1)),
        InvalidRequest, "callback_url", also=("2049", "2048"),
    ),
    # -- temperature --
    **{
        f"temperature-{v!r}": Case(
            lambda d, v=v: one(temperature=v), InvalidRequest, "temperature", lambda d, v=v: v
        )
        for v in (-0.1, 1.01, math.nan, math.inf, -math.inf, "0.5", True, False, 2)
    },
    # -- audio vs tts --
    "audio-and-tts": Case(
        lambda d: one(tts=TextToSpeech(text="hi", voice="alice"), model="acme-lite"),
        InvalidRequest, "audio", also=("both", "tts"),
    ),
    "neither-audio-nor-tts": Case(
        lambda d: {"video": VIDEO, "model": "acme-lite"},
        InvalidRequest, "audio", also=("neither", "tts"),
    ),
    "blank-audio": Case(
        lambda d: one(audio="   "), InvalidRequest, "audio", also=("non-empty",),
    ),
    # -- sync_mode --
    "sync-mode-bogus": Case(
        lambda d: one(sync_mode="bogus"),
        InvalidRequest, "sync_mode", lambda d: "bogus", ALL_MODES,
    ),
    "sync-mode-bounce-on-lite": Case(
        lambda d: lite(sync_mode="bounce"),
        UnsupportedOption, "sync_mode", lambda d: "bounce", ("cut_off", "loop"),
        allowed=("cut_off", "loop"),
    ),
    # -- options acme-lite lacks --
    "temperature-on-lite": Case(
        lambda d: lite(temperature=0.5),
        UnsupportedOption, "temperature", lambda d: 0.5, ("acme-lite",), allowed=(),
    ),
    "active-speaker-on-lite": Case(
        lambda d: lite(active_speaker=True),
        UnsupportedOption, "active_speaker", lambda d: True, ("acme-lite",), allowed=(),
    ),
    "callback-on-lite": Case(
        lambda d: lite(callback_url=HOOK),
        UnsupportedOption, "callback_url", lambda d: HOOK, ("acme-lite",), allowed=(),
    ),
    # -- tts --
    "tts-on-acme-1": Case(
        lambda d: spoken("alice", "acme-1"),
        UnsupportedOption, "tts", also=("acme-1",), allowed=("audio",),
    ),
    "tts-voice-carol": Case(
        lambda d: spoken("carol", "acme-lite"),
        UnsupportedOption, "tts.voice", lambda d: "carol", ("alice", "bob"),
        allowed=("alice", "bob"),
    ),
    # -- model --
    "unknown-model": Case(
        lambda d: one(model="acme-9"),
        UnsupportedOption, "model", lambda d: "acme-9", ("acme-1", "acme-lite"),
        allowed=("acme-1", "acme-lite"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_invalid_request_refused_alike_without_http(
    offline_client: Client, media: Path, case: Case
) -> None:
    exc = refused_alike(offline_client, lambda: JobRequest(**case.request(media)))
    assert type(exc) is case.error, exc.message
    assert_names(exc, case.field, case.value(media), *case.also)
    if case.allowed is not None:
        assert isinstance(exc, UnsupportedOption)
        assert list(exc.allowed) == list(case.allowed)


@pytest.mark.parametrize(
    ("field", "ref"),
    [("video", lambda d: str(d / "small.mp4")), ("audio", lambda d: (d / "small.wav").as_uri())],
)
def test_a_local_file_with_no_route_is_refused_by_submit_before_it_is_read(
    offline_client: Client, media: Path, field: str, ref: Callable[[Path], str]
) -> None:
    """acme-1 takes no inline files, acme has no upload API and no staging is set: the
    submit is refused naming the routes (the file is not even probed: its name decides).
    An estimate sends nothing, so it measures the file instead (tests/test_local_media.py)."""
    value = ref(media)
    with pytest.raises(UnsupportedOption) as caught:
        offline_client.submit("acme", JobRequest(**one(**{field: value})))
    assert_names(caught.value, field, value, "local file", "LIPBRIDGE_STAGING=s3://")
    assert list(caught.value.allowed) == ["http", "https"]


def test_data_uri_on_lite_is_not_unsupported(offline_client: Client) -> None:
    """acme-lite takes inline media, so a data: URI passes validation there."""
    info = offline_client.info("acme")
    req = JobRequest(**lite(video="data:video/mp4;base64,AAAA"))
    assert validate(info, req).video == req.video


@pytest.mark.parametrize(
    ("video", "expected"),
    [
        ("data:audio/wav;base64,AAAA", "is not a base64 video data URI; allowed: "
                                       "data:video/<type>;base64,<data>"),
        ("data:video/mp4,rawbytes", "is not a base64 video data URI"),
        ("data:video/mp4;base64," + "A" * 1336, "video data URI holds 1002 bytes; allowed: "
                                                "at most 1000 bytes for acme/acme-lite"),
    ],
)
def test_a_data_uri_gets_the_checks_a_local_file_gets(
    offline_client: Client, video: str, expected: str
) -> None:
    info = offline_client.info("acme")
    with pytest.raises(InvalidRequest, match=re.escape(expected)) as caught:
        validate(info, JobRequest(**lite(video=video)))
    assert caught.value.field == "video"


def test_long_values_are_cut_short_in_messages(offline_client: Client) -> None:
    """A megabyte data: URI must not end up whole in an error message (or a log line)."""
    uri = "data:video/mp4;base64," + "A" * 100_000
    exc = refused_alike(offline_client, lambda: JobRequest(**one(video=uri)))
    assert_names(exc, "video", uri)
    assert len(exc.message) < 1000


def test_callback_with_credentials_is_refused_without_leaking_them(
    offline_client: Client,
) -> None:
    url = "https://user:s3cr3t-pw@hooks.example/cb"
    exc = refused_alike(offline_client, lambda: JobRequest(**one(callback_url=url)))
    assert type(exc) is InvalidRequest
    assert_names(exc, "callback_url", None, "credentials")
    assert "s3cr3t-pw" not in exc.message  # the password must not end up in logs


def test_callback_url_of_exactly_max_length_is_accepted(offline_client: Client) -> None:
    url = url_of_length(2048)
    assert len(url) == 2048 == CALLBACK_URL_MAX_LENGTH
    req = JobRequest(**one(callback_url=url))
    assert req.callback_url == url
    est = offline_client.estimate_cost("acme", req, **SECONDS)
    assert est.known


@pytest.mark.parametrize("value", [0.0, 1.0, 0, 1, 0.5])
def test_temperature_bounds_are_accepted(offline_client: Client, value: float) -> None:
    req = JobRequest(**one(temperature=value))
    assert req.temperature == value
    assert offline_client.estimate_cost("acme", req, **SECONDS).known


def test_local_files_within_limits_pass_validation(offline_client: Client, media: Path) -> None:
    """The size limit is inclusive: exactly 1000 bytes is fine, 1001 is not (see CASES)."""
    info = offline_client.info("acme")
    for video, audio in (("small.mp4", "small.wav"), ("edge.mp4", "edge.wav")):
        req = JobRequest(**lite(video=str(media / video), audio=str(media / audio)))
        assert validate(info, req).model == "acme-lite"


def test_validation_fills_in_the_default_model(offline_client: Client) -> None:
    req = JobRequest(video=VIDEO, audio=AUDIO)
    assert validate(offline_client.info("acme"), req).model == "acme-1"


# --- drop_unsupported -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("temperature", 0.5),
        ("active_speaker", False),
        ("callback_url", HOOK),
        ("sync_mode", "bounce"),
    ],
)
def test_drop_unsupported_drops_optional_options(
    offline_client: Client, option: str, value: object
) -> None:
    req = JobRequest(**lite(**{option: value}))
    with pytest.warns(OptionDropped, match=option):
        est = offline_client.estimate_cost("acme", req, drop_unsupported=True, **SECONDS)
    assert isinstance(est, CostEstimate)
    assert est.model == "acme-lite"
    with pytest.warns(OptionDropped, match=option):
        kept = validate(offline_client.info("acme"), req, drop_unsupported=True)
    assert getattr(kept, option) is None
    assert kept.video == req.video
    assert kept.audio == req.audio


def test_drop_unsupported_keeps_supported_options(offline_client: Client) -> None:
    req = JobRequest(**one(temperature=0.5, active_speaker=True, callback_url=HOOK))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OptionDropped)
        kept = validate(offline_client.info("acme"), req, drop_unsupported=True)
    assert (kept.temperature, kept.active_speaker, kept.callback_url) == (0.5, True, HOOK)


@pytest.mark.parametrize(
    ("kw", "field", "error"),
    [
        pytest.param(
            lite(video="ftp://files.example/face.mp4", temperature=0.5),
            "video",
            InvalidRequest,
            id="bad-video-url",
        ),
        pytest.param(
            spoken("carol", "acme-lite"),
            "tts.voice",
            UnsupportedOption,
            id="bad-voice",
        ),
        pytest.param(one(model="acme-9"), "model", UnsupportedOption, id="unknown-model"),
    ],
)
def test_drop_unsupported_still_raises_for_required_problems(
    offline_client: Client, kw: dict[str, Any], field: str, error: type[InvalidRequest]
) -> None:
    exc = refused_alike(offline_client, lambda: JobRequest(**kw), drop_unsupported=True)
    assert type(exc) is error
    assert exc.field == field


# --- construction-time checks -----------------------------------------------------------------

invalid_temperatures = st.one_of(
    st.floats(max_value=-5e-324),
    st.floats(min_value=1.0, exclude_min=True),
    st.sampled_from([math.nan, -math.nan, math.inf, -math.inf]),
    st.integers().filter(lambda i: i < 0 or i > 1),
)


@settings(max_examples=100, deadline=None)
@given(invalid_temperatures)
def test_invalid_temperature_always_refused_at_construction(value: float) -> None:
    with pytest.raises(InvalidRequest) as caught:
        JobRequest(video=VIDEO, audio=AUDIO, temperature=value)
    assert_names(caught.value, "temperature")
    assert "0.0 to 1.0" in caught.value.message


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_valid_temperature_always_accepted(value: float) -> None:
    assert JobRequest(video=VIDEO, audio=AUDIO, temperature=value).temperature == value


any_reference = st.text(alphabet=st.sampled_from("htps:/[]@.:0-9 \n\x00a%"), max_size=24)
ACME = AcmeLike("acme").lipbridge_provider_info()


def refusal(build: Callable[[], object]) -> InvalidRequest | None:
    try:
        build()
    except InvalidRequest as exc:
        return exc
    return None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["https://", "http://", "", "file://", "data:"]), any_reference)
def test_any_media_or_callback_text_is_valid_or_an_invalid_request(prefix: str, rest: str) -> None:
    """Never a bare ValueError from urllib.parse, whatever the user typed."""
    for model in ("acme-1", "acme-lite"):
        request = {"video": prefix + rest, "audio": AUDIO, "model": model}
        refused = refusal(lambda: validate(ACME, JobRequest(**request)))  # noqa: B023 - run now
        assert refused is None or refused.field == "video"
    refused = refusal(lambda: JobRequest(video=VIDEO, audio=AUDIO, callback_url=prefix + rest))
    assert refused is None or refused.field == "callback_url"


def test_forbidden_transport_guard_is_live(offline_client: Client) -> None:
    """A control: a valid submit does reach the transport, which fails the test.

    This is what makes every ``refused_alike`` above a proof of zero HTTP requests.
    """
    with pytest.raises(pytest.fail.Exception, match="unexpected HTTP request"):
        offline_client.submit("acme", JobRequest(**one()))


def test_path_objects_are_taken_as_their_string() -> None:
    request = JobRequest(video=Path("face.mp4"), audio=Path("voice.wav"))  # type: ignore[arg-type]
    assert (request.video, request.audio) == ("face.mp4", "voice.wav")


@pytest.mark.parametrize(
    ("field", "value"),
    [("video", 5), ("audio", 5), ("audio", b"a.wav"), ("callback_url", 5),
     ("active_speaker", "yes")],
    ids=["video-int", "audio-int", "audio-bytes", "callback-int", "active-speaker-str"],
)
def test_wrongly_typed_fields_are_invalid_request(field: str, value: object) -> None:
    """A clear InvalidRequest naming the field and value, never a bare AttributeError/TypeError."""
    kw: dict[str, Any] = {"video": VIDEO, "audio": AUDIO, field: value}
    with pytest.raises(InvalidRequest) as caught:
        JobRequest(**kw)
    assert caught.value.field == field
    assert_names(caught.value, field, value)


@pytest.mark.parametrize(
    ("uri", "size"),
    [
        ("data:video/mp4;base64,AAAA", 3),
        ("data:video/mp4;base64,AAA=", 2),
        ("data:audio/wav;base64,AA==", 1),
        ("data:text/plain,a%20b", 3),
        ("data:video/mp4;base64", None),
        ("https://example.com/a.mp4", None),
    ],
)
def test_data_uri_size_is_the_decoded_size_without_decoding(uri: str, size: int | None) -> None:
    from lipbridge.validation import data_uri_size

    assert data_uri_size(uri) == size
