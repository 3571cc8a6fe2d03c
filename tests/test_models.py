"""The core models: JSON round trips, JobHandle persistence and the model-level invariants."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lipbridge.models
from lipbridge import InvalidRequest
from lipbridge.convert import dumps, loads, structure, unstructure
from lipbridge.models import (
    AuthScheme,
    BilledUsage,
    CostEstimate,
    InputLimits,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    MediaDurations,
    ModelCapabilities,
    PriceSource,
    ProviderInfo,
    SyncMode,
    TextToSpeech,
)

FEW = settings(max_examples=50, deadline=None)

# --- strategies -------------------------------------------------------------------------------

words = st.text(max_size=12)
names = st.text(min_size=1, max_size=12).filter(lambda s: s.strip())
opt_words = st.none() | words
finite = st.floats(allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0.0, max_value=1e9, allow_nan=False)
money = st.decimals(allow_nan=False, allow_infinity=False)
non_negative_money = st.decimals(min_value=0, allow_nan=False, allow_infinity=False)
offsets = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
)
# A realistic range: an offset applied to year 1 or 9999 leaves datetime's range altogether.
aware_datetimes = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.just(dt.timezone.utc) | offsets,
)
urls = st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9/._-]{0,20}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)

tts = st.builds(TextToSpeech, text=names, voice=names)
sync_mode_words = st.sampled_from([m.value for m in SyncMode])  # the converter takes words too


@st.composite
def job_requests(draw: st.DrawFn) -> JobRequest:
    use_tts = draw(st.booleans())
    return JobRequest(
        video=draw(names),
        audio=None if use_tts else draw(names),
        tts=draw(tts) if use_tts else None,
        model=draw(st.none() | names),
        sync_mode=draw(st.none() | st.sampled_from(SyncMode) | sync_mode_words),
        temperature=draw(st.none() | st.floats(min_value=0.0, max_value=1.0)),
        active_speaker=draw(st.none() | st.booleans()),
        callback_url=draw(st.none() | urls),
        options=draw(st.dictionaries(words, json_values, max_size=4)),
    )


handles = st.builds(
    JobHandle,
    provider=names,
    job_id=names,
    created_at=aware_datetimes,
    model=st.none() | names,
    resume=st.dictionaries(words, words, max_size=3),
    idempotency_key=opt_words,
)
billed = st.builds(BilledUsage, amount=money, unit=words, usd=st.none() | money)
results = st.builds(
    JobResult,
    video_url=urls,
    cover_url=st.none() | urls,
    duration_seconds=st.none() | non_negative,
    expires_at=st.none() | aware_datetimes,
    billed=st.none() | billed,
)
job_errors = st.builds(JobError, message=words, code=opt_words)


@st.composite
def statuses(draw: st.DrawFn) -> JobStatus:
    state = draw(st.sampled_from(JobState))
    result = draw(results) if state is JobState.SUCCEEDED else draw(st.none() | results)
    return JobStatus(
        state=state,
        raw_status=draw(words),
        progress=draw(st.none() | st.floats(min_value=0, max_value=100)),
        result=result,
        error=draw(st.none() | job_errors),
        poll_after=draw(st.none() | non_negative),
    )


sources = st.builds(PriceSource, url=urls, as_of=st.dates(), table_version=words)


@st.composite
def estimates(draw: st.DrawFn) -> CostEstimate:
    known = draw(st.booleans())
    return CostEstimate(
        provider=draw(names),
        model=draw(names),
        amount=draw(non_negative_money) if known else None,
        unit=draw(words),
        usd=draw(st.none() | non_negative_money),
        basis=draw(words),
        quantity=draw(st.none() | non_negative_money),
        source=draw(st.none() | sources),
        unknown_reason=None if known else draw(names),
    )


durations = st.builds(
    MediaDurations,
    video_seconds=st.none() | non_negative,
    audio_seconds=st.none() | non_negative,
    output_seconds=st.none() | non_negative,
)
limits = st.builds(
    InputLimits,
    max_video_seconds=st.none() | non_negative,
    max_audio_seconds=st.none() | non_negative,
    max_video_bytes=st.none() | st.integers(min_value=0),
    max_audio_bytes=st.none() | st.integers(min_value=0),
)
name_tuples = st.lists(names, max_size=3).map(tuple)
capabilities = st.builds(
    ModelCapabilities,
    name=names,
    sync_modes=st.frozensets(st.sampled_from(SyncMode)),
    default_sync_mode=st.none() | st.sampled_from(SyncMode),
    temperature=st.booleans(),
    active_speaker=st.booleans(),
    audio_input=st.booleans(),
    tts_voices=name_tuples,
    callback=st.booleans(),
    cancel=st.booleans(),
    cost_estimate=st.booleans(),
    local_files=st.booleans(),
    video_formats=name_tuples,
    audio_formats=name_tuples,
    limits=limits,
    output_url_ttl_seconds=st.none() | non_negative,
)
auth_schemes = st.builds(AuthScheme, header=names, prefix=words)
provider_infos = st.builds(
    ProviderInfo,
    name=names,
    display_name=words,
    docs_url=urls,
    contract_version=words,
    default_base_url=urls,
    models=st.lists(capabilities, min_size=1, max_size=3).map(tuple),
    default_model=names,
    auth=auth_schemes,
    api_key_env=name_tuples,
    secret_headers=name_tuples,
    idempotency_header=st.none() | names,
)


# --- round trips ------------------------------------------------------------------------------


def round_trip(obj: Any) -> Any:
    """``obj`` through unstructure/structure and through JSON text; both must give it back."""
    cls = type(obj)
    assert structure(unstructure(obj), cls) == obj
    text = dumps(obj)
    back = loads(text, cls)
    assert back == obj
    assert type(back) is cls
    return back


def assert_decimals_kept(original: Any, back: Any) -> None:
    """Every Decimal field came back as an equal Decimal (never a float), recursively."""
    for a in attrs.fields(type(original)):
        before, after = getattr(original, a.name), getattr(back, a.name)
        if isinstance(before, Decimal):
            assert type(after) is Decimal, a.name
            assert after == before, a.name
        elif attrs.has(type(before)):
            assert_decimals_kept(before, after)


def assert_same_instant(before: dt.datetime | None, after: dt.datetime | None) -> None:
    """The same moment comes back, still tz-aware (the offset itself may be normalised)."""
    if before is None:
        assert after is None
        return
    assert after is not None
    assert after.tzinfo is not None
    assert after.utcoffset() is not None
    assert after == before
    assert after - before == dt.timedelta(0)


def test_every_model_has_a_strategy() -> None:
    """A guard: a model added to lipbridge.models must be added to the round trips below."""
    covered = {
        JobRequest, TextToSpeech, JobHandle, JobStatus, JobResult, JobError, BilledUsage,
        CostEstimate, PriceSource, MediaDurations, InputLimits, ModelCapabilities, AuthScheme,
        ProviderInfo,
    }  # fmt: skip
    defined = {
        obj
        for obj in vars(lipbridge.models).values()
        if attrs.has(obj) and obj.__module__ in ("lipbridge.models", "lipbridge.estimates")
    }
    assert defined == covered


@FEW
@given(job_requests())
def test_job_request_round_trip(request_: JobRequest) -> None:
    back = round_trip(request_)
    assert back.options == request_.options
    assert back.sync_mode is request_.sync_mode  # an enum member again, not a bare string


@FEW
@given(json_values, st.sampled_from([math.nan, math.inf, -math.inf]))
def test_options_with_a_non_finite_number_anywhere_are_refused(value: Any, bad: float) -> None:
    """JSON has no NaN or Infinity: json.dumps would send a body the provider cannot parse."""
    with pytest.raises(InvalidRequest) as caught:
        JobRequest(video="v.mp4", audio="a.wav", options={"k": {"kept": value, "x": [bad]}})
    assert caught.value.field == "options.k.x[0]"


@FEW
@given(tts)
def test_text_to_speech_round_trip(obj: TextToSpeech) -> None:
    round_trip(obj)


@FEW
@given(handles)
def test_job_handle_round_trip(handle: JobHandle) -> None:
    back = round_trip(handle)
    assert_same_instant(handle.created_at, back.created_at)
    assert JobHandle.from_json(handle.to_json()) == handle


@FEW
@given(statuses())
def test_job_status_round_trip(status: JobStatus) -> None:
    back = round_trip(status)
    assert back.state is status.state
    if status.result is not None:
        assert_same_instant(status.result.expires_at, back.result.expires_at)
        assert_decimals_kept(status.result, back.result)


@FEW
@given(results)
def test_job_result_round_trip(result: JobResult) -> None:
    back = round_trip(result)
    assert_same_instant(result.expires_at, back.expires_at)
    assert_decimals_kept(result, back)


@FEW
@given(job_errors)
def test_job_error_round_trip(error: JobError) -> None:
    round_trip(error)


@FEW
@given(billed)
def test_billed_usage_round_trip(usage: BilledUsage) -> None:
    back = round_trip(usage)
    assert_decimals_kept(usage, back)
    wire = json.loads(dumps(usage))
    assert isinstance(wire["amount"], str)  # money travels as text, never as a JSON float
    assert usage.usd is None or isinstance(wire["usd"], str)


@FEW
@given(estimates())
def test_cost_estimate_round_trip(estimate: CostEstimate) -> None:
    back = round_trip(estimate)
    assert_decimals_kept(estimate, back)
    assert back.known is estimate.known
    if not estimate.known:
        assert back.amount is None  # unknown stays unknown, never turns into 0
        assert json.loads(dumps(estimate))["amount"] is None


@FEW
@given(sources)
def test_price_source_round_trip(source: PriceSource) -> None:
    back = round_trip(source)
    assert type(back.as_of) is dt.date


@FEW
@given(durations)
def test_media_durations_round_trip(obj: MediaDurations) -> None:
    round_trip(obj)


@FEW
@given(limits)
def test_input_limits_round_trip(obj: InputLimits) -> None:
    round_trip(obj)


@FEW
@given(capabilities)
def test_model_capabilities_round_trip(caps: ModelCapabilities) -> None:
    back = round_trip(caps)
    assert isinstance(back.sync_modes, frozenset)
    assert all(isinstance(m, SyncMode) for m in back.sync_modes)


@FEW
@given(auth_schemes)
def test_auth_scheme_round_trip(obj: AuthScheme) -> None:
    round_trip(obj)


@FEW
@given(provider_infos)
def test_provider_info_round_trip(info: ProviderInfo) -> None:
    back = round_trip(info)
    assert type(back.models) is tuple


def test_money_given_as_a_float_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="BilledUsage"):
        structure({"amount": 0.1, "unit": "credits", "usd": None}, BilledUsage)
    assert structure({"amount": "0.1", "unit": "credits"}, BilledUsage).amount == Decimal("0.1")


# --- JobHandle persistence --------------------------------------------------------------------

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
HANDLE = JobHandle(
    provider="acme",
    job_id="job-42",
    created_at=dt.datetime(2026, 11, 21, 12, 0, tzinfo=IST),
    model="acme-1",
    resume={"status_url": "https://api.acme.invalid/v1/jobs/job-42"},
    idempotency_key="k-1",
)


def test_job_handle_json_round_trip() -> None:
    text = HANDLE.to_json()
    assert isinstance(json.loads(text), dict)
    back = JobHandle.from_json(text)
    assert back == HANDLE
    assert_same_instant(HANDLE.created_at, back.created_at)
    assert JobHandle.from_json(text.encode()) == HANDLE  # bytes are accepted too


def test_job_handle_rebuilt_in_another_process() -> None:
    """Only the JSON text crosses the process boundary; the other side rebuilds the handle."""
    code = (
        "import sys\n"
        "from lipbridge import JobHandle\n"
        "h = JobHandle.from_json(sys.stdin.read())\n"
        "assert h.created_at.tzinfo is not None\n"
        "print(h.to_json())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=HANDLE.to_json(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert JobHandle.from_json(done.stdout) == HANDLE


def _handle_data(**changes: Any) -> dict[str, Any]:
    data = json.loads(HANDLE.to_json())
    data.update(changes)
    return data


def _without(key: str) -> str:
    data = _handle_data()
    del data[key]
    return json.dumps(data)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("{not json", id="malformed"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param("[]", id="list"),
        pytest.param("null", id="null"),
        pytest.param('"job-42"', id="string"),
        pytest.param("42", id="number"),
        pytest.param("{}", id="empty-object"),
        pytest.param(_without("provider"), id="missing-provider"),
        pytest.param(_without("job_id"), id="missing-job_id"),
        pytest.param(_without("created_at"), id="missing-created_at"),
        pytest.param(json.dumps(_handle_data(created_at="2026-11-21T12:00:00")), id="naive"),
        pytest.param(json.dumps(_handle_data(created_at="yesterday")), id="bad-datetime"),
        pytest.param(json.dumps(_handle_data(created_at=1764000000)), id="epoch-number"),
        pytest.param(json.dumps(_handle_data(extra="x")), id="extra-key"),
        pytest.param(json.dumps(_handle_data(resume=["a"])), id="resume-not-a-mapping"),
    ],
)
def test_job_handle_from_bad_json_is_invalid_request(text: str | bytes) -> None:
    # pytest.raises(InvalidRequest) would let a KeyError or a cattrs error fail the test.
    with pytest.raises(InvalidRequest) as caught:
        JobHandle.from_json(text)
    assert "JobHandle" in caught.value.message
    assert caught.value.__cause__ is None  # no cattrs/KeyError chained into the user's view


def test_naive_datetime_message_names_the_field() -> None:
    with pytest.raises(InvalidRequest, match="created_at"):
        JobHandle.from_json(json.dumps(_handle_data(created_at="2026-11-21T12:00:00")))


@pytest.mark.parametrize(("key", "value"), [("provider", None), ("job_id", None), ("job_id", 5)])
def test_job_handle_non_string_identity_is_invalid_request(key: str, value: object) -> None:
    with pytest.raises(InvalidRequest):
        JobHandle.from_json(json.dumps(_handle_data(**{key: value})))


# --- CostEstimate invariants ------------------------------------------------------------------


def test_cost_estimate_amount_none_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="unknown_reason"):
        CostEstimate(provider="acme", model="acme-1", amount=None, unit="credits")


def test_cost_estimate_amount_and_reason_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="unknown_reason"):
        CostEstimate(
            provider="acme",
            model="acme-1",
            amount=Decimal("1"),
            unit="credits",
            unknown_reason="no price",
        )


@pytest.mark.parametrize("amount", [Decimal("-0.01"), Decimal("-1"), Decimal("-1E+3")])
def test_cost_estimate_negative_amount_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="negative"):
        CostEstimate(provider="acme", model="acme-1", amount=amount, unit="credits")


def test_cost_estimate_zero_is_a_known_amount() -> None:
    est = CostEstimate(provider="acme", model="acme-1", amount=Decimal(0), unit="credits")
    assert est.known
    assert est.amount == 0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"amount": None}, id="none-without-reason"),
        pytest.param({"amount": "1", "unknown_reason": "why"}, id="amount-and-reason"),
        pytest.param({"amount": "-1"}, id="negative"),
        pytest.param({"amount": "lots"}, id="not-a-number"),
    ],
)
def test_cost_estimate_invariants_hold_when_loading(data: dict[str, Any]) -> None:
    raw = {"provider": "acme", "model": "acme-1", "unit": "credits", **data}
    with pytest.raises(InvalidRequest):
        loads(json.dumps(raw), CostEstimate)


@FEW
@given(provider=names, model=names, reason=names, unit=words)
def test_unknown_estimate_is_never_zero(provider: str, model: str, reason: str, unit: str) -> None:
    est = CostEstimate.unknown(provider, model, reason, unit)
    assert est.amount is None
    assert est.known is False
    assert est.amount != 0
    assert est.usd is None
    assert est.unknown_reason == reason


def test_succeeded_status_needs_a_result() -> None:
    with pytest.raises(ValueError, match="result"):
        JobStatus(state=JobState.SUCCEEDED, raw_status="done")
    with pytest.raises(InvalidRequest):
        structure({"state": "succeeded", "raw_status": "done"}, JobStatus)


# --- JobState ---------------------------------------------------------------------------------

TERMINAL = {
    JobState.QUEUED: False,
    JobState.RUNNING: False,
    JobState.CANCELLING: False,
    JobState.SUCCEEDED: True,
    JobState.FAILED: True,
    JobState.CANCELLED: True,
}


def test_terminal_table_covers_every_state() -> None:
    assert set(TERMINAL) == set(JobState)


@pytest.mark.parametrize("state", list(JobState), ids=lambda s: s.value)
def test_job_state_terminal(state: JobState) -> None:
    assert state.terminal is TERMINAL[state]


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.0.2", True),
        ("::1", True),
        ("LocalHost", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
        (None, False),
    ],
)
def test_is_loopback_knows_addresses_only_this_machine_reaches(
    host: str | None, local: bool
) -> None:
    from lipbridge.models import is_loopback

    assert is_loopback(host) is local
