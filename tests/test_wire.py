"""The wire readers plugins share: untrusted JSON in, typed values or lipbridge errors out."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import FakeClock
from hypothesis import given
from hypothesis import strategies as st

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    InvalidRequest,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)
from lipbridge.plugin import (
    Response,
    number,
    read_object,
    request_body,
    required_text,
    text,
    timestamp,
)


def response(status: int, body: bytes, **headers: str) -> Response:
    return Response(method="GET", url="https://api.acme.invalid/v1/jobs/7", status=status,
                    headers=headers, body=body)


def read(resp: Response, **kwargs: object) -> object:
    return read_object(resp, provider="acme", clock=FakeClock(), job_id="7", **kwargs)


def test_a_2xx_json_object_is_returned() -> None:
    assert read(response(200, b'{"id": "7", "status": "done"}')) == {"id": "7", "status": "done"}


@pytest.mark.parametrize("body", [b"[1, 2]", b'"done"', b"null"])
def test_a_2xx_that_is_not_an_object_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProviderProtocolError, match="JSON that is not an object") as caught:
        read(response(200, body))
    assert caught.value.http_status == 200 and caught.value.job_id == "7"


def test_an_error_envelope_gives_message_and_code() -> None:
    body = b'{"error": {"message": "bad key", "code": 40101}}'
    with pytest.raises(AuthenticationError, match="HTTP 401: bad key") as caught:
        read(response(401, body))
    assert caught.value.code == "40101"


def test_envelope_paths_and_status_overrides_are_the_providers() -> None:
    body = b'{"message": "no credits left", "statusCode": 403}'
    with pytest.raises(InsufficientCredits, match="no credits left"):
        read(response(403, body), message=("message",), code=("statusCode",),
             overrides={403: InsufficientCredits})


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b'{"error": {"mess', b""])
def test_an_error_page_that_is_not_json_still_raises_by_status(body: bytes) -> None:
    with pytest.raises(ProviderUnavailable, match="HTTP 503: no error message") as caught:
        read(response(503, body, **{"retry-after": "7"}))
    assert caught.value.retry_after == 7


@given(st.integers(100, 599), st.binary(max_size=40))
def test_any_response_is_an_object_or_a_provider_error_with_its_status(
    status: int, body: bytes
) -> None:
    outcome: object
    try:
        outcome = read(response(status, body))
    except ProviderError as exc:
        outcome = exc
    if isinstance(outcome, ProviderError):
        assert outcome.http_status == status
    else:
        assert 200 <= status < 300 and isinstance(outcome, dict)


def test_text_number_and_timestamp_accept_only_their_type() -> None:
    assert text("x") == "x"
    assert [text(v) for v in ("", 5, None, ["x"])] == [None, None, None, None]
    assert number(12.5) == 12.5 and number(0) == 0 and number(100, top=100) == 100
    too_big = 10**400  # larger than any float
    assert [number(v) for v in (True, -1, float("nan"), float("inf"), "3", 101, too_big)] == [
        None, None, None, None, None, 101, None
    ]
    assert number(101, top=100) is None
    utc = dt.timezone.utc
    assert timestamp("2026-11-21T12:00:00Z") == dt.datetime(2026, 11, 21, 12, tzinfo=utc)
    assert timestamp("2026-11-21T12:00:00") == dt.datetime(2026, 11, 21, 12, tzinfo=utc)
    assert timestamp("2026-11-21T14:00:00+02:00") == dt.datetime(2026, 11, 21, 12, tzinfo=utc)
    assert [timestamp(v) for v in ("tomorrow", 1700000000, None)] == [None, None, None]


def test_a_rate_limit_keeps_its_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        read(response(429, b'{"error": {"message": "slow down"}}', **{"retry-after": "30"}))
    assert caught.value.retry_after == 30 and caught.value.retryable


def test_a_list_of_messages_is_joined_and_non_strings_are_left_out() -> None:
    body = b'{"message": ["video_url must be a URL", 7, "model is required"], "statusCode": 400}'
    with pytest.raises(RequestRejected) as caught:
        read(response(400, body), message=("message",))
    assert caught.value.message == (
        "acme: HTTP 400: video_url must be a URL; model is required"
    )


def test_request_body_drops_unset_fields_and_appends_options() -> None:
    body = request_body({"video_url": "v", "sync_mode": None}, {"seed": 7})
    assert body == {"video_url": "v", "seed": 7}


@pytest.mark.parametrize("option", ["temperature", "video_url"])
def test_options_cannot_set_what_a_request_field_maps_to(option: str) -> None:
    fields = {"video_url": "v", "temperature": None}
    with pytest.raises(InvalidRequest, match=f"options may not set {option}; allowed"
                       ) as caught:
        request_body(fields, {option: 1})
    assert caught.value.field == "options" and "allowed: other provider fields" in str(
        caught.value
    )


def test_an_open_field_takes_a_native_option_only_while_the_request_leaves_it_unset() -> None:
    open_ = {"open_fields": ("playback_type",)}
    assert request_body({"playback_type": None}, {"playback_type": "native"}, **open_) == {
        "playback_type": "native"
    }
    with pytest.raises(InvalidRequest, match="options may not set playback_type"):
        request_body({"playback_type": "mapped"}, {"playback_type": "native"}, **open_)


def test_code_may_be_several_paths_the_first_present_wins_or_none() -> None:
    body = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}'
    paths = [("error", "code"), ("error", "type")]
    with pytest.raises(RateLimited) as caught:
        read(response(429, body), code=paths)
    assert caught.value.code == "rate_limit_error"
    with pytest.raises(RateLimited) as caught:
        read(response(429, b'{"error": {"code": 7, "type": "x"}}'), code=paths)
    assert caught.value.code == "7"
    with pytest.raises(RateLimited) as caught:
        read(response(429, body), code=[])
    assert caught.value.code is None


def test_a_required_field_is_its_text_or_a_protocol_error_naming_its_path() -> None:
    resp = response(200, b'{"data": {"task_id": "t1", "status": 3}}')
    data = {"data": {"task_id": "t1", "status": 3}}
    assert required_text(resp, data, "data", "task_id", provider="acme") == "t1"
    with pytest.raises(ProviderProtocolError, match=r"answered HTTP 200 without data\.status") as e:
        required_text(resp, data, "data", "status", provider="acme", job_id="t1")
    assert e.value.job_id == "t1" and e.value.provider == "acme"
